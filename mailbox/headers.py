"""Header values of incoming mail: raw compat32 values to one-line text, address headers to
`Address` tuples (with mail-parser's lexical decoding for the hard cases), Date values to
aware datetimes (local Indonesian zone names included). Problems become defects, never errors.
"""
from __future__ import annotations

import email
import email.utils
import re
from datetime import UTC, datetime

from mailparser.dates import parse_mail_date
from mailparser.utils import get_addresses

from .charset import ONE_LINE_DROP_RE, TO_SPACE_RE, one_line, unescape_surrogates, decode_words
from .message import Address

_MIN_YEAR, _MAX_YEAR = 1970, 2200


# --------------------------------------------------------------------------------------
# headers
# --------------------------------------------------------------------------------------

_FOLD_RE = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
RAW_HEADERS = {"message-id", "in-reply-to", "references", "content-id", "resent-message-id"}


def header_text(raw_value: object, name: str = "", defects: list[str] | None = None,
                 decode: bool = True) -> str:
    """Raw compat32 header value -> decoded one-line text."""
    if not isinstance(raw_value, str):
        raw_value = str(raw_value)
    value, ok = unescape_surrogates(raw_value)
    if not ok and defects is not None:
        defects.append(f"non-UTF-8 8-bit bytes in {name or 'a'} header, decoded as windows-1252")
    if "\n" in value or "\r" in value:
        value = _FOLD_RE.sub("", value)
    if decode and "=?" in value:
        value = decode_words(value)
    return one_line(value)


# --------------------------------------------------------------------------------------
# addresses
# --------------------------------------------------------------------------------------

# A list of plain mailboxes: `a@b`, `Name <a@b>`, `"Name, Title" <a@b>`. For these the stdlib
# parser is exact and fast; anything else (encoded words, comments, odd quoting, groups,
# stray brackets) goes through mail-parser's structural scanner.
# Possessive quantifiers (Python 3.11+) keep these linear on hostile input.
_ATOM_ADDR = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]++@[A-Za-z0-9](?:[A-Za-z0-9.\-]*+(?<=[A-Za-z0-9]))?"
_NAME_CHARS = r"[^\x00-\x1f\"\\<>()\[\],;:@=?]"
_SIMPLE_ITEM = (rf"(?:(?:[ \t]*+\"[^\"\\\r\n]*+\"[ \t]*+|{_NAME_CHARS}*+)<{_ATOM_ADDR}>[ \t]*+"
                rf"|[ \t]*+{_ATOM_ADDR}[ \t]*+)")
_SIMPLE_ADDR_RE = re.compile(rf"{_SIMPLE_ITEM}(?:,{_SIMPLE_ITEM})*+,?[ \t]*+")
_SIMPLE_ITEM_RE = re.compile(
    rf"(?:[ \t]*+\"(?P<q>[^\"\\\r\n]*+)\"[ \t]*+|(?P<n>{_NAME_CHARS}*+))<(?P<a>{_ATOM_ADDR})>"
    rf"|(?P<b>{_ATOM_ADDR})")
_ADDR_DELIMS = r"\s<>()\[\]\"',;:"
_ADDR_SPEC_RE = re.compile(
    rf"(?<![^{_ADDR_DELIMS}])[^{_ADDR_DELIMS}@]++@[A-Za-z0-9](?:[A-Za-z0-9.\-]*+(?<=[A-Za-z0-9]))?")
_HAS_SPACE_RE = re.compile(r"\s")


def parse_addresses(raw_value: object, name: str, defects: list[str]) -> tuple[Address, ...]:
    if raw_value is None:
        return ()
    text, _ = unescape_surrogates(raw_value if isinstance(raw_value, str) else str(raw_value))
    if "\n" in text or "\r" in text:
        text = _FOLD_RE.sub("", text)
    text = TO_SPACE_RE.sub(" ", text)
    if not text.strip():
        return ()
    pairs: list[tuple[str, str]] = []
    if "=?" not in text and _SIMPLE_ADDR_RE.fullmatch(text):
        # plain "Name <a@b>, c@d" lists: the grammar is already checked, read the items off
        pairs = [
            (" ".join((m.group("q") if m.group("q") is not None else m.group("n") or "").split()),
             m.group("a") or m.group("b"))
            for m in _SIMPLE_ITEM_RE.finditer(text)
        ]
    else:
        diag: list[dict] = []
        try:
            pairs = get_addresses(text, defects=diag, decode_names=True)
        except Exception as exc:  # noqa: BLE001 - a library bug must not lose the message
            defects.append(f"{name} header: mail-parser failed ({type(exc).__name__})")
            pairs = []
        for d in diag:
            defects.append(f"{name} header: {d.get('reason', 'malformed')} in {str(d.get('raw', ''))[:80]!r}")
        if not any(addr for _, addr in pairs):
            try:
                pairs = email.utils.getaddresses([decode_words(text)])
            except Exception:  # noqa: BLE001
                pairs = []
    out: list[Address] = []
    seen: set[tuple[str, str]] = set()
    for disp, addr in pairs:
        addr = ONE_LINE_DROP_RE.sub("", addr or "").strip().strip("<>").strip()
        if not addr:
            continue
        if "@" not in addr or _HAS_SPACE_RE.search(addr):
            m = _ADDR_SPEC_RE.search(addr[:4096])
            if not m:
                defects.append(f"{name} header: no usable address in {addr[:80]!r}")
                continue
            defects.append(f"{name} header: address recovered from {addr[:80]!r}")
            addr = m.group(0)
        disp = disp or ""
        if "=?" in disp:
            disp = decode_words(disp)  # quoted encoded words: not RFC 2047, but everyone sends them
        disp = one_line(disp)
        if disp.lower() == addr.lower():
            disp = ""
        if (disp, addr.lower()) in seen:
            continue
        seen.add((disp, addr.lower()))
        out.append(Address(disp, addr))
    if not out:
        m = _ADDR_SPEC_RE.search(text[:4096])
        if m:
            defects.append(f"{name} header: address recovered by pattern from {text[:80]!r}")
            out.append(Address("", m.group(0)))
    return tuple(out)


# --------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------

_LOCAL_TZ_RE = re.compile(r"\b(WIB|WITA|WIT)\s*$", re.I)
_LOCAL_TZ = {"wib": "+0700", "wita": "+0800", "wit": "+0900"}


def parse_date(value: str, defects: list[str]) -> datetime | None:
    value = value.strip()
    if not value:
        defects.append("empty Date header")
        return None
    m = _LOCAL_TZ_RE.search(value)
    if m:  # Indonesian zone abbreviations: the stdlib would read them as UTC
        value = value[:m.start()] + _LOCAL_TZ[m.group(1).lower()]
    dt: datetime | None = None
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except Exception:  # noqa: BLE001 - ValueError, TypeError, OverflowError, IndexError ...
        try:
            dt = parse_mail_date(value).value  # mail-parser: comments, obsolete forms
        except Exception:  # noqa: BLE001
            dt = None
    if dt is None:
        defects.append(f"unparseable Date header {value[:60]!r}")
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        dt = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        defects.append(f"Date header out of range {value[:60]!r}")
        return None
    if not (_MIN_YEAR <= dt.year <= _MAX_YEAR):
        defects.append(f"Date header out of range {value[:60]!r}")
        return None
    return dt
