"""The party registry's records (Party, Contact, Mention) and reading its TOML files.

The seed (tickets/data/parties.toml) and a deployment's extra file are checked entry by
entry here; every problem is a RegistryError naming the file and the entry. Building the
registry from the checked entries is `PartyRegistry.load` (parties.py). Pure logic.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import KpudeskError

__all__ = ["Contact", "Mention", "Party", "RegistryError"]


class RegistryError(KpudeskError, ValueError):
    """The party registry (seed or the deployment's extra file) is invalid; the message names the entry."""


@dataclass(frozen=True)
class Party:
    number: int
    name: str
    short: str
    aliases: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()  # lower-case; "@domain" entries match a whole domain
    local: str | None = None  # region of a local party ("Aceh"), None for national parties


@dataclass(frozen=True)
class Contact:
    """A known liaison officer (from the deployment's registry file)."""

    email: str  # lower-case
    name: str | None
    phone: str | None  # E.164, e.g. "+6281234567890"
    party: Party | None


@dataclass(frozen=True)
class Mention:
    """One place where a party is named in a text."""

    party: Party
    start: int
    end: int
    text: str
    role: str  # "self" (the writer's own party), "other" (someone else's), "neutral"


ADDRESS_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_DOMAIN_RE = re.compile(r"@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)+")
# A party domain entry for a public mail service would claim all its users for one party.
_PUBLIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.id", "ymail.com", "rocketmail.com",
    "hotmail.com", "outlook.com", "outlook.co.id", "live.com", "msn.com", "icloud.com", "me.com",
    "aol.com", "proton.me", "protonmail.com", "mail.com", "gmx.com", "yandex.com", "zoho.com",
})


def norm_address(value: str) -> str:
    v = value.strip().strip("<>").strip().lower()
    if v.startswith("mailto:"):
        v = v[7:]
    return v


def read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise RegistryError(f"{path}: file not found") from None
    except OSError as e:
        raise RegistryError(f"{path}: cannot read ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise RegistryError(f"{path}: not valid TOML: {e}") from None


def check_keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RegistryError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def table_list(data: dict, key: str, path: Path) -> list[dict]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise RegistryError(f"{path}: '{key}' must be an array of tables ([[{key}]])")
    return value


def _str_list(value: object, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RegistryError(f"{what} must be a list of non-empty strings")
    return [" ".join(v.split()) for v in value]


def _addresses(value: object, what: str) -> list[str]:
    out = []
    for a in _str_list(value, what):
        addr = norm_address(a)
        if addr.startswith("@"):
            if not _DOMAIN_RE.fullmatch(addr):
                raise RegistryError(f"{what}: {a!r} is not a domain entry like '@partai.example.org'")
            if addr[1:] in _PUBLIC_MAIL_DOMAINS:
                raise RegistryError(
                    f"{what}: {a!r} is a public mail service; list the liaison's own address instead"
                )
        elif not ADDRESS_RE.fullmatch(addr):
            raise RegistryError(f"{what}: {a!r} is not an email address")
        if addr not in out:
            out.append(addr)
    return out


def seed_entry(entry: dict, i: int, path: Path) -> dict:
    num = entry.get("number")
    label = f"{path}: [[party]] #{i}" + (f" (number {num})" if isinstance(num, int) else "")
    check_keys(entry, {"number", "name", "short", "aliases", "addresses", "local"}, label)
    if not isinstance(num, int) or isinstance(num, bool) or num <= 0:
        raise RegistryError(f"{label}: 'number' must be a positive integer")
    rec: dict = {"number": num}
    for k in ("name", "short"):
        v = entry.get(k)
        if not isinstance(v, str) or not v.strip():
            raise RegistryError(f"{label}: '{k}' must be a non-empty string")
        rec[k] = " ".join(v.split())
    rec["aliases"] = _str_list(entry.get("aliases", []), f"{label}: 'aliases'")
    rec["addresses"] = _addresses(entry.get("addresses", []), f"{label}: 'addresses'")
    local = entry.get("local")
    if local is not None and (not isinstance(local, str) or not local.strip()):
        raise RegistryError(f"{label}: 'local' must be a region name")
    rec["local"] = local.strip() if local else None
    return rec


def merge_extra(parties: dict[int, dict], entry: dict, i: int, path: Path) -> None:
    num, short = entry.get("number"), entry.get("short")
    label = f"{path}: [[party]] #{i}" + (f" (number {num})" if num is not None else "") + (
        f" ({short!r})" if short is not None else "")
    check_keys(entry, {"number", "short", "addresses", "aliases"}, label)
    if num is None and short is None:
        raise RegistryError(f"{label}: give 'number' or 'short' to say which party this is")
    by_num = by_short = None
    if num is not None:
        if not isinstance(num, int) or isinstance(num, bool):
            raise RegistryError(f"{label}: 'number' must be an integer")
        by_num = parties.get(num)
        if by_num is None:
            raise RegistryError(f"{label}: no party with number {num} in the seed")
    if short is not None:
        if not isinstance(short, str) or not short.strip():
            raise RegistryError(f"{label}: 'short' must be a non-empty string")
        key = " ".join(short.lower().split())
        by_short = next((r for r in parties.values() if r["short"].lower() == key), None)
        if by_short is None:
            raise RegistryError(f"{label}: no party with short name {short!r} in the seed")
    if by_num is not None and by_short is not None and by_num is not by_short:
        raise RegistryError(
            f"{label}: number {num} is {by_num['short']!r}, but short {short!r} is number {by_short['number']}"
        )
    rec = by_num or by_short
    for a in _str_list(entry.get("aliases", []), f"{label}: 'aliases'"):
        if a.lower() not in {x.lower() for x in rec["aliases"]}:
            rec["aliases"].append(a)
    for a in _addresses(entry.get("addresses", []), f"{label}: 'addresses'"):
        if a not in rec["addresses"]:
            rec["addresses"].append(a)
