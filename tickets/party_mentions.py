"""Finding party names in a text: the regexes for each name and where a match stands.

Each name, short name and alias of a party becomes one or two regexes (`term_patterns`)
with an anchor word that lets `PartyRegistry.mentions` try them only near it
(`ascii_words`, `near_anchor`); `mention_role` reads the words before a match to tell the
writer's own party ("kami dari DPC ...") from someone else's ("ganda dengan PKB"). Pure logic.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from .party_records import Party
from .quoting import CLOSING_RE


_SELF_WORDS = frozenset({
    "dari", "dpc", "dpd", "dpw", "dpp", "dpac", "lo", "liaison", "penghubung", "admin", "operator",
    "sekretaris", "sekjen", "ketua", "bendahara", "pengurus", "mewakili", "perwakilan",
    "sekretariat", "staf", "staff", "tim", "kader",
})
_OTHER_WORDS = frozenset({
    "dengan", "ganda", "lain", "selain", "terdaftar", "terhadap", "antara", "mantan", "pindah",
    "keluar", "bersama", "koalisi", "vs", "versus", "ke", "bukan",
})
# Ordinary words that are also party short names: standalone they must be capitalised.
_COMMON_WORD_TERMS = frozenset({"gelora", "garuda", "ummat", "demokrat", "sira"})
# ... and a few fixed phrases where they are not the party.
_NOT_FOLLOWED_BY = {"garuda": ("pancasila", "indonesia airways"), "gelora": ("bung karno", "sriwijaya")}
_CONTEXT_WORDS = 4
MASK_RE = re.compile(r"[^\s@]+@\S+|(?:https?://|www\.)\S+", re.IGNORECASE)  # [^\s@]: linear, no backtracking
WORD_RE = re.compile(r"\w+")
LIST_GAP_RE = re.compile(r"\s*,?\s*(?:(?:dan|atau|serta|maupun|&|/)\s+)?", re.IGNORECASE)
_CLAUSE_BREAK_RE = re.compile(r"[.;!?,()\[\]\n]")
_PREFIX = r"(?:(?:(?:dpc|dpd|dpw|dpp)[ \t]+)?partai[ \t]+|(?:dpc|dpd|dpw|dpp)[ \t]+)"


def letter_count(term: str) -> int:
    return sum(c.isalpha() for c in term)


def _term_body(term: str) -> str:
    parts = []
    for word in term.split():
        out = []
        for ch in word:
            if ch == "-":
                out.append(r"[-\s]?")
            elif ch in "'’`":
                out.append(r"['’`]?")
            else:
                out.append(re.escape(ch))
        parts.append("".join(out))
    return r"[\s\-]+".join(parts)


def term_patterns(term: str, *, prefixable: bool) -> list[re.Pattern[str]]:
    """Regexes for one name of a party (whole words only)."""
    body = _term_body(term)
    low = term.lower()
    tail = ""
    if low in _NOT_FOLLOWED_BY:
        phrases = [r"\s+".join(re.escape(w) for w in p.split()) for p in _NOT_FOLLOWED_BY[low]]
        tail = "".join(r"(?!\s+(?i:" + p + r")\b)" for p in phrases)
    lb, la = r"(?<![\w\-])", r"(?![\w\-])"
    pats: list[re.Pattern[str]] = []
    if letter_count(term) < 4:
        pats.append(re.compile(lb + body + la + tail))  # "PKB", "PAN": upper case only
        relaxed = re.compile(lb + "(?i:" + _PREFIX + ")" + ("(?i:" + body + ")" if letter_count(term) >= 3 else body) + la)
    elif low in _COMMON_WORD_TERMS:
        first, rest = _term_body(term[0]), _term_body(term[1:])
        pats.append(re.compile(lb + f"(?-i:{first.upper()})" + f"(?i:{rest})" + la + tail))
        relaxed = re.compile(lb + "(?i:" + _PREFIX + body + ")" + la)
    else:
        pats.append(re.compile(lb + "(?i:" + body + ")" + la + tail))
        relaxed = re.compile(lb + "(?i:" + _PREFIX + body + ")" + la)
    if prefixable:
        pats.append(relaxed)
    return pats


class Term(NamedTuple):
    """One regex for one name of a party, with what lets `mentions` skip or narrow it."""

    pattern: re.Pattern[str]
    party: Party
    tiny: bool  # a two-letter short name ("PA"): too ambiguous unless it is the writer's own
    anchor: str  # a whole word every match contains ("" if none); upper case: case-sensitive
    key: bytes  # the anchor as `ascii_words` spells it
    lead: int  # how many words a match can have before its anchor
    hint: str  # for a term without anchor ("PDI-P"): a piece every match contains


# Bytes that belong to a word for the anchor test: ASCII letters (folded to lower case),
# digits and "_". Every other byte, UTF-8 sequences included, separates words; anchors are
# ASCII, so an anchor that is a whole word of the text is always one of these tokens.
_WORD_BYTES = bytes(
    (c + 32 if 65 <= c <= 90 else c) if chr(c).isascii() and (chr(c).isalnum() or c == 95) else 32
    for c in range(256)
)


def ascii_words(lowered: str, wanted: frozenset[bytes]) -> set[bytes]:
    """Which of the `wanted` words (ASCII, lower case) are whole words of a text: a C-speed
    pass; intersecting keeps no set of all the text's words. Measured 2026-12-04 on the
    ingest bench's bodies (6 KB mean): 45 µs per body against 93 µs for
    `re.findall(r"[0-9a-z_]+")` with str keys, ~7 % of a message's analysis: kept."""
    return wanted.intersection(lowered.encode("utf-8", "surrogatepass").translate(_WORD_BYTES).split())


def mask_addresses(text: str, lowered: str) -> str:
    """`MASK_RE` blanked out (addresses and links name no party). Its matches never span
    whitespace, so only the lines that hold "@", "://" or "www." are run through it; the
    result is `text` itself when there are none."""
    lines: set[int] = set()
    for needle in ("@", "://", "www."):
        i = lowered.find(needle)
        while i >= 0:
            lines.add(lowered.rfind("\n", 0, i) + 1)
            i = lowered.find(needle, i + 1)
    if not lines:
        return text
    out: list[str] = []
    pos = 0
    for start in sorted(lines):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        out.append(text[pos:start])
        out.append(MASK_RE.sub(lambda m: " " * len(m.group(0)), text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"  # what `re` calls \w


def _word_starts_before(text: str, i: int, count: int) -> list[int]:
    """Starts of the `count` words before offset `i` (fewer at the start of the text)."""
    out: list[int] = []
    j = i
    while len(out) < count:
        j -= 1
        while j >= 0 and not is_word_char(text[j]):
            j -= 1
        if j < 0:
            break
        while j > 0 and is_word_char(text[j - 1]):
            j -= 1
        out.append(j)
    return out


def near_anchor(term: Term, masked: str, lowered: str):
    """`term.pattern.finditer(masked)`, found without scanning the whole text.

    Every match holds the term's anchor as a whole word and starts at most `term.lead`
    words before it, so the pattern is tried only at those few word starts around each
    occurrence of the anchor; on a long body this is ~20x faster than a scan (lookbehind
    patterns get no literal-prefix speed-up from `re`). Same matches, same order."""
    exact = term.anchor.isupper()
    haystack, needle = (masked, term.anchor) if exact else (lowered, term.anchor.lower())
    starts: set[int] = set()
    size, width = len(haystack), len(needle)
    i = haystack.find(needle)
    while i >= 0:
        j = i + width
        # whole words only: "pa" is in every "pada" and "bapak"
        if not ((i and is_word_char(haystack[i - 1])) or (j < size and is_word_char(haystack[j]))):
            starts.add(i)
            if term.lead:
                starts.update(_word_starts_before(masked, i, term.lead))
        i = haystack.find(needle, i + 1)
    last_end = 0
    for start in sorted(starts):
        if start < last_end:
            continue  # finditer resumes after a match: no overlaps within one pattern
        m = term.pattern.match(masked, start)
        if m is not None:
            last_end = m.end()
            yield m


def signature_offset(text: str) -> int | None:
    """Offset where the signature starts (the line after the last closing), or None."""
    tail = 0
    for line in reversed(text.splitlines(keepends=True)):
        if CLOSING_RE.match(line):
            return len(text) - tail
        tail += len(line)
    return None


def mention_role(text: str, start: int, end: int, sig_start: int | None) -> str:
    line_start = max(text.rfind("\n", 0, start) + 1, start - 200)
    before = text[line_start:start]
    breaks = list(_CLAUSE_BREAK_RE.finditer(before))
    clause = before[breaks[-1].end():] if breaks else before
    window = [w.strip("\"'*:").lower() for w in clause.split()][-_CONTEXT_WORDS:]
    if any(w in _OTHER_WORDS for w in window):
        return "other"
    matched = text[start:end].split()
    if any(w in _SELF_WORDS for w in window) or (matched and matched[0].lower() in _SELF_WORDS):
        return "self"
    if sig_start is not None and start >= sig_start:
        return "self"  # named in the signature ("Salam,\nSiti Aminah\nPartai Gelora")
    return "neutral"
