"""The party registry: the parties, their liaison addresses and known contacts.

`PartyRegistry.load` reads the seed (DEFAULT_PARTIES_PATH) and a deployment's extra file;
the registry answers which party an address belongs to, names a known contact, and finds
the writer's party in a text (`find_in_text`, `mentions`). `default_registry()` is the
seed alone, cached. Pure logic: no database, no network.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .party_mentions import (
    LIST_GAP_RE, MASK_RE, WORD_RE, ascii_words, letter_count, mask_addresses, near_anchor,
    mention_role, signature_offset, Term, term_patterns,
)
from .party_records import (
    ADDRESS_RE, Contact, Mention, Party, RegistryError, check_keys, merge_extra, norm_address,
    read_toml, seed_entry, table_list,
)
from .phones import normalize_phone

__all__ = ["DEFAULT_PARTIES_PATH", "PartyRegistry", "default_registry"]

DEFAULT_PARTIES_PATH = Path(__file__).parent / "data" / "parties.toml"


class PartyRegistry:
    """The parties, their liaison addresses and known contacts; finds parties in text."""

    def __init__(self, parties: Iterable[Party], contacts: Iterable[Contact] = ()) -> None:
        self._parties: dict[int, Party] = {}
        self._names: dict[str, Party] = {}
        self._addresses: dict[str, Party] = {}
        self._domains: dict[str, Party] = {}
        self._contacts: dict[str, Contact] = {}
        # (pattern, party, tiny, anchor, hint): the anchor is a whole word every match
        # contains, so a word test skips most of the ~100 regex scans per text and the
        # pattern is only tried near it; a term without one ("PDI-P") has a hint, a
        # piece every match contains, tested as a substring.
        self._terms: list[Term] = []
        for p in sorted(parties, key=lambda p: p.number):
            self._add_party(p)
        for c in contacts:
            self._add_contact(c)
        # The terms by anchor key (and those without one), each with its registry
        # position: `mentions` visits only the keys that are words of the text.
        self._by_key: dict[bytes, list[tuple[int, Term]]] = {}
        self._unanchored: list[tuple[int, Term]] = []
        for i, term in enumerate(self._terms):
            if term.anchor:
                self._by_key.setdefault(term.key, []).append((i, term))
            else:
                self._unanchored.append((i, term))
        self._keys = frozenset(self._by_key)

    # -- construction -------------------------------------------------------------------

    def _add_party(self, p: Party) -> None:
        label = f"party {p.number} ({p.short})"
        if p.number in self._parties:
            raise RegistryError(f"{label}: number {p.number} is used twice")
        self._parties[p.number] = p
        for term in (p.name, p.short, *p.aliases):
            key = " ".join(term.lower().split())
            other = self._names.get(key)
            if other is not None and other.number != p.number:
                raise RegistryError(f"{label}: name {term!r} is also used by party {other.number} ({other.short})")
            self._names[key] = p
        for addr in p.addresses:
            table, key = (self._domains, addr[1:]) if addr.startswith("@") else (self._addresses, addr)
            other = table.get(key)
            if other is not None and other.number != p.number:
                raise RegistryError(f"{label}: address {addr!r} is also listed for party {other.number} ({other.short})")
            table[key] = p
        seen: set[str] = set()
        for term in (p.name, p.short, *p.aliases):
            if term.lower() in seen:
                continue
            seen.add(term.lower())
            prefixable = not term.lower().startswith("partai ") and term != p.name
            tiny = letter_count(term) <= 2
            # The anchor is the term's most telling whole word ("Partai" is in every other
            # mail): a text whose words do not include it cannot match. An upper-case-only
            # pattern ("PKB") gets a case-sensitive anchor. A term with no plain word
            # ("PDI-P") has none and is always tried.
            words = [w for w in term.split() if re.fullmatch(r"\w+", w)]
            telling = [w for w in words if w.casefold() != "partai"] or words
            word = max(telling, key=len) if telling else ""
            hint = max(re.split(r"[-'’`\s]+", term.lower()), key=len)
            for k, pat in enumerate(term_patterns(term, prefixable=prefixable)):
                exact = k == 0 and letter_count(term) < 4
                anchor = word if exact else word.casefold()
                # Words a match can hold before its anchor: the name's own, plus "DPC
                # Partai" for the relaxed pattern (k == 1).
                lead = len(WORD_RE.findall(term[:term.index(word)])) + 2 * k if word else 0
                self._terms.append(Term(pat, p, tiny and k == 0, anchor, anchor.lower().encode(), lead, hint))

    def _add_contact(self, c: Contact) -> None:
        if c.email in self._contacts:
            raise RegistryError(f"contact {c.email!r} is listed twice")
        if c.party is not None:
            listed = self._addresses.get(c.email)
            if listed is not None and listed.number != c.party.number:
                raise RegistryError(
                    f"contact {c.email!r} belongs to party {c.party.number} ({c.party.short}) but the "
                    f"address is listed for party {listed.number} ({listed.short})"
                )
        self._contacts[c.email] = c

    @classmethod
    def load(cls, seed_path: Path | str = DEFAULT_PARTIES_PATH, extra_path: Path | str | None = None) -> PartyRegistry:
        """Read the seed (parties.toml format) and optionally the deployment's extra file.

        The extra file has `[[party]]` entries matched to the seed by `number` or `short`,
        adding `addresses` (exact, or "@domain") and `aliases`, and `[[contact]]` entries
        `{email, name, phone, party}` for known liaison officers. Raises RegistryError.
        """
        seed_path = Path(seed_path)
        seed = read_toml(seed_path)
        check_keys(seed, {"party", "contact"}, f"{seed_path}")
        entries = table_list(seed, "party", seed_path)
        if not entries:
            raise RegistryError(f"{seed_path}: no [[party]] entries")
        parties: dict[int, dict] = {}
        for i, entry in enumerate(entries, 1):
            rec = seed_entry(entry, i, seed_path)
            if rec["number"] in parties:
                raise RegistryError(f"{seed_path}: [[party]] #{i}: number {rec['number']} is used twice")
            parties[rec["number"]] = rec
        contact_entries = list(table_list(seed, "contact", seed_path))
        sources = [(seed_path, e, i) for i, e in enumerate(contact_entries, 1)]
        if extra_path is not None:
            extra_path = Path(extra_path)
            extra = read_toml(extra_path)
            check_keys(extra, {"party", "contact"}, f"{extra_path}")
            for i, entry in enumerate(table_list(extra, "party", extra_path), 1):
                merge_extra(parties, entry, i, extra_path)
            sources += [(extra_path, e, i) for i, e in enumerate(table_list(extra, "contact", extra_path), 1)]
        try:
            built = [
                Party(number=r["number"], name=r["name"], short=r["short"], aliases=tuple(r["aliases"]),
                      addresses=tuple(r["addresses"]), local=r["local"])
                for r in parties.values()
            ]
            registry = cls(built)
            for path, entry, i in sources:
                registry._add_contact(_contact_entry(entry, i, path, registry))
        except RegistryError as e:
            where = f"{seed_path}" + (f" + {extra_path}" if extra_path is not None else "")
            raise RegistryError(f"{where}: {e}") from None
        return registry

    # -- lookups ------------------------------------------------------------------------

    @property
    def parties(self) -> tuple[Party, ...]:
        return tuple(self._parties.values())

    def get(self, number_or_short: int | str) -> Party | None:
        """A party by ballot number (12 or "12"), short name, full name or alias (any case)."""
        if isinstance(number_or_short, bool):
            return None
        if isinstance(number_or_short, int):
            return self._parties.get(number_or_short)
        if not isinstance(number_or_short, str):
            return None
        key = " ".join(number_or_short.lower().split())
        if key.isdigit():
            return self._parties.get(int(key))
        return self._names.get(key)

    def contact(self, email: str | None) -> Contact | None:
        if not email:
            return None
        return self._contacts.get(norm_address(email))

    @property
    def contacts(self) -> tuple[Contact, ...]:
        return tuple(self._contacts.values())

    def by_address(self, email: str | None) -> Party | None:
        """The party a sender address belongs to: a listed address or contact, else a listed domain."""
        if not email:
            return None
        key = norm_address(email)
        found = self._addresses.get(key)
        if found is not None:
            return found
        c = self._contacts.get(key)
        if c is not None and c.party is not None:
            return c.party
        if "@" in key:
            return self._domains.get(key.rsplit("@", 1)[1])
        return None

    # -- text ---------------------------------------------------------------------------

    def mentions(self, text: str, lowered: str | None = None) -> list[Mention]:
        """Every party named in `text` (overlaps resolved leftmost-longest), with its role.
        `lowered`: `text.lower()` when the caller has it (a `Body`)."""
        if not text:
            return []
        if lowered is None:
            lowered = text.lower()
        if len(lowered) != len(text):  # a few letters ("İ") lower into two: offsets differ
            return self._mentions_slow(text)
        masked = mask_addresses(text, lowered)
        if masked is not text:
            lowered = masked.lower()
        # Only the terms whose anchor is a word of the text (a handful of ~70), in
        # registry order: ties in `_resolve` keep the first.
        todo = [it for key in ascii_words(lowered, self._keys) for it in self._by_key[key]]
        todo += [it for it in self._unanchored if it[1].hint in lowered]
        todo.sort(key=lambda it: it[0])
        raw: list[tuple[int, int, Party, bool]] = []
        for _, term in todo:
            found = near_anchor(term, masked, lowered) if term.anchor else term.pattern.finditer(masked)
            for m in found:
                raw.append((m.start(), m.end(), term.party, term.tiny))
        return self._resolve(text, masked, raw)

    def _resolve(self, text: str, masked: str, raw: list[tuple[int, int, Party, bool]]) -> list[Mention]:
        """Overlapping matches → leftmost-longest mentions, each with its role."""
        if not raw:
            return []
        raw.sort(key=lambda r: (r[0], -(r[1] - r[0])))
        sig_start = signature_offset(masked)
        out: list[Mention] = []
        last_end = -1
        for start, end, party, tiny in raw:
            if start < last_end:
                continue
            last_end = end
            role = mention_role(masked, start, end, sig_start)
            if out and out[-1].role == "other" and LIST_GAP_RE.fullmatch(masked[out[-1].end:start]):
                role = "other"  # "ganda dengan PKB, PKS dan PAN": the whole list
            if tiny and role == "neutral":
                role = "other"  # "PA" alone is too ambiguous to name the writer's party
            out.append(Mention(party, start, end, text[start:end], role))
        return out

    def _mentions_slow(self, text: str) -> list[Mention]:
        """`mentions` for the rare text whose lower-case form has other offsets: every
        pattern scans the whole text."""
        masked = MASK_RE.sub(lambda m: " " * len(m.group(0)), text)
        raw = [(m.start(), m.end(), t.party, t.tiny) for t in self._terms for m in t.pattern.finditer(masked)]
        return self._resolve(text, masked, raw)

    def find_in_text(self, text: str, lowered: str | None = None) -> Party | None:
        """The party the writer belongs to, as named in a subject or body; None when unclear.

        Names, short names and aliases match as whole words; short names under four letters
        ("PKB", "PAN", "PA") only in upper case (or after "Partai"/"DPC"); overlapping
        matches keep the longest ("Partai Nasional Demokrat" is NasDem, not Demokrat).
        The first mention that reads as the writer's own ("kami dari DPC ...", "LO Partai
        ...", a line of the signature) wins; mentions of other parties ("ganda dengan
        PKB") are ignored; otherwise the answer is the one party mentioned, or None when
        several are. A two-letter short name ("PA") counts only as the writer's own.
        `lowered`: `text.lower()` when the caller has it.
        """
        ms = self.mentions(text, lowered)
        for m in ms:
            if m.role == "self":
                return m.party
        neutral = {m.party.number: m.party for m in ms if m.role == "neutral"}
        if len(neutral) == 1:
            return next(iter(neutral.values()))
        return None


def _contact_entry(entry: dict, i: int, path: Path, registry: PartyRegistry) -> Contact:
    email = entry.get("email")
    label = f"{path}: [[contact]] #{i}" + (f" ({email!r})" if isinstance(email, str) else "")
    check_keys(entry, {"email", "name", "phone", "party"}, label)
    if not isinstance(email, str) or not ADDRESS_RE.fullmatch(norm_address(email)):
        raise RegistryError(f"{label}: 'email' must be an email address")
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise RegistryError(f"{label}: 'name' must be a non-empty string")
    phone = entry.get("phone")
    e164 = None
    if phone is not None:
        e164 = normalize_phone(phone) if isinstance(phone, str) else None
        if e164 is None:
            raise RegistryError(f"{label}: 'phone' {phone!r} is not an Indonesian phone number")
    party = None
    ref = entry.get("party")
    if ref is not None:
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            raise RegistryError(f"{label}: 'party' must be a ballot number or a short name")
        party = registry.get(ref)
        if party is None:
            raise RegistryError(f"{label}: unknown party {ref!r}")
    return Contact(email=norm_address(email), name=" ".join(name.split()) if name else None,
                   phone=e164, party=party)


@lru_cache(maxsize=1)  # the seed file, read and compiled once per process
def default_registry() -> PartyRegistry:
    """The seed parties (no addresses, no contacts); cached."""
    return PartyRegistry.load(DEFAULT_PARTIES_PATH)
