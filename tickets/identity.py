"""Who consulted: map a sender to a party and pull a name and phone number out of the mail.

Everything here is a guess from text. Each value comes with a short source string
("contact", "registry", "from-header", "subject", "body", "signature", "reply-to") so an
officer can see why the helpdesk thinks what it thinks. When the text is ambiguous the
answer is None: a wrong party on a ticket is worse than an empty one.

Pure logic: no database, no network, no clock. The registry is read from TOML files.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from kpudesk.mailbox.message import InboundMessage, compact_pickle

from .errors import KpudeskError

__all__ = [
    "DEFAULT_PARTIES_PATH",
    "Contact",
    "IdentityGuess",
    "Mention",
    "Party",
    "PartyRegistry",
    "RegistryError",
    "default_registry",
    "extract_name",
    "extract_phones",
    "identify",
    "normalize_phone",
    "strip_quoted",
]

DEFAULT_PARTIES_PATH = Path(__file__).parent / "data" / "parties.toml"


class RegistryError(KpudeskError, ValueError):
    """The party registry (seed or the deployment's extra file) is invalid; the message names the entry."""


# ---------------------------------------------------------------------------------------
# Value types
# ---------------------------------------------------------------------------------------


@compact_pickle
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


@compact_pickle
@dataclass(frozen=True)
class IdentityGuess:
    name: str | None
    name_source: str | None
    party: Party | None
    party_source: str | None
    phone: str | None
    phone_source: str | None
    email: str | None
    email_source: str | None


# ---------------------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------------------

_SP = " \t\u00a0"
# A run of digits with the separators phone numbers are written with.
_PHONE_RUN_RE = re.compile(rf"(?:\(\+?|\+\(?)?\d[\d{_SP}().\-]*")
# Separators that keep two digit groups in one number: one space, a dot, a dash (spaces
# allowed around it), or parentheses around an area code.
_JOIN_SEP_RE = re.compile(rf"[{_SP}]|\.|[{_SP}]?-[{_SP}]?|\)[{_SP}]?(?:-[{_SP}]?)?|[{_SP}]?\(")
_MAX_RUN_DIGITS = 13  # 0 + 12; anything longer is an id (NIK/KK: 16), an account, ...


def _nsn_valid(nsn: str) -> bool:
    """National significant number (after +62 / 0): mobile 8xx (9-12 digits) or landline (8-10)."""
    if not nsn or nsn[0] in "01":
        return False
    if nsn[0] == "8":
        return 9 <= len(nsn) <= 12
    return 8 <= len(nsn) <= 10


def _to_e164(groups: list[str], plus: bool) -> str | None:
    digits = "".join(groups)
    first = groups[0]
    if plus or digits.startswith("62"):
        if not digits.startswith("62"):
            return None  # not an Indonesian number
        if not plus and not (first == "62" or len(first) >= 5):
            return None
        nsn = digits[2:]
        if nsn.startswith("0"):  # "+62 0812...", a common slip
            nsn = nsn[1:]
    elif digits.startswith("0"):
        # "08.10.2022" is a date, "01.234.567.8-901" a tax number: an area or operator
        # code is at least three digits with its 0 ("021", "0721", "0812").
        if len(groups) > 1 and len(first) < 3:
            return None
        nsn = digits[1:]
    else:
        return None
    return "+62" + nsn if _nsn_valid(nsn) else None


def _phone_segments(text: str):
    """Yield (start, end, groups, plus) for each candidate number in text."""
    for m in _PHONE_RUN_RE.finditer(text):
        run = m.group(0)
        start = m.start()
        # Trim trailing separators and an unbalanced closing parenthesis.
        run = run.rstrip(_SP + ".-(")
        while run.endswith(")") and run.count(")") > run.count("("):
            run = run[:-1].rstrip(_SP + ".-(")
        end = start + len(run)
        before = text[start - 1] if start > 0 else ""
        before2 = text[start - 2] if start > 1 else ""
        after = text[end] if end < len(text) else ""
        after2 = text[end + 1] if end + 1 < len(text) else ""
        # Glued to a word, an address or a path: part of something else.
        if before and (before.isalnum() or before in "_@/\\#=&?"):
            continue
        if before in ".,:+" and before2.isdigit():
            continue
        if after and (after.isalnum() or after in "_@/\\"):
            continue
        if after in ".," and after2.isdigit():
            continue
        plus = "+" in run[: run.find(next(c for c in run if c.isdigit()))]
        groups: list[tuple[int, int]] = [(g.start(), g.end()) for g in re.finditer(r"\d+", run)]
        # Split into segments at separators that do not join groups of one number.
        segment: list[tuple[int, int]] = []
        for i, (gs, ge) in enumerate(groups):
            if segment:
                sep = run[segment[-1][1]:gs]
                joins = _JOIN_SEP_RE.fullmatch(sep) is not None
                if joins and sep.strip(_SP) == "" and ge - gs <= 2:
                    joins = False  # "0812 3456 7890 2 kali": a lone short number after a space
                if not joins:
                    yield start + segment[0][0], start + segment[-1][1], [run[a:b] for a, b in segment], plus
                    segment = []
                    plus = False
            segment.append((gs, ge))
        if segment:
            yield start + segment[0][0], start + segment[-1][1], [run[a:b] for a, b in segment], plus


def extract_phones(text: str) -> list[str]:
    """Indonesian phone numbers in `text`, normalized to E.164 ("+62812..."), unique, in order.

    Accepts +62..., 62... and 0... forms with spaces, dots, dashes and parentheses
    ("0812-3456-7890", "+62 812 3456 7890", "(0721) 123456"). Mobile numbers are 10-13
    digits written with their leading 0 (9-12 after +62); landlines 9-11 with the 0.
    Rejects NIK/KK numbers (16 digits) and any run longer than 13 digits, dates, times,
    and numbers glued to other digits or words.
    """
    if not text:
        return []
    out: dict[str, None] = {}
    for _s, _e, groups, plus in _phone_segments(text):
        if sum(len(g) for g in groups) > _MAX_RUN_DIGITS + (2 if plus or groups[0].startswith("62") else 0):
            continue
        e164 = _to_e164(groups, plus)
        if e164:
            out.setdefault(e164, None)
    return list(out)


def normalize_phone(value: str) -> str | None:
    """One phone number as written by a person -> E.164, or None when it is not exactly one number."""
    if not isinstance(value, str):
        return None
    found = extract_phones(value.strip())
    return found[0] if len(found) == 1 else None


# ---------------------------------------------------------------------------------------
# Quoted text and signatures
# ---------------------------------------------------------------------------------------

_QUOTE_START_RE = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|pesan asli|forwarded message|pesan terusan|pesan yang diteruskan)"
    r"|(?:on|pada)\s.{4,200}(?:wrote|menulis)\s*:\s*$"
    r"|_{10,}\s*$)",
    re.IGNORECASE,
)
_OUTLOOK_FROM_RE = re.compile(r"^\s*(?:from|dari)\s*:.*@", re.IGNORECASE)
_OUTLOOK_NEXT_RE = re.compile(r"^\s*(?:sent|date|tanggal|dikirim|terkirim|to|kepada)\s*:", re.IGNORECASE)


# Letters outside ASCII that `re.IGNORECASE` takes for an ASCII "i", "k" or "s" (dotted
# and dotless I, long s, Kelvin sign): where one occurs, the fast paths below that look
# for ASCII words with str.find step aside for the regexes.
_FOLDS_TO_ASCII = ("\u0130", "\u0131", "\u017f", "\u212a")


def _folds_to_ascii(text: str) -> bool:
    return not text.isascii() and any(c in text for c in _FOLDS_TO_ASCII)


@lru_cache(maxsize=8)  # the same body is lowered by strip_quoted, the name and party finders
def _lowered(text: str) -> str:
    return text.lower()


@lru_cache(maxsize=8)  # ... and split into lines by five of them
def _lines(text: str) -> tuple[str, ...]:
    return tuple(text.splitlines())


def _may_hold_quote(text: str) -> bool:
    """False when no line of `text` can start a quote (every pattern below needs one of
    these pieces), so `strip_quoted` need not look at each line."""
    if ">" in text or "@" in text or "--" in text or "__________" in text:
        return True
    low = _lowered(text)
    return "wrote" in low or "menulis" in low or _folds_to_ascii(text)


@lru_cache(maxsize=32)  # identify, name and question extraction all ask for it
def strip_quoted(text: str) -> str:
    """The writer's own words: drop "> " lines and everything from a reply/forward header on."""
    if not text:
        return ""
    if not _may_hold_quote(text):
        return "\n".join(_lines(text))
    lines = _lines(text)
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _QUOTE_START_RE.match(line):
            break
        if _OUTLOOK_FROM_RE.match(line) and i + 1 < len(lines) and _OUTLOOK_NEXT_RE.match(lines[i + 1]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


_CLOSING_RE = re.compile(
    r"^\s*(?:hormat\s+(?:saya|kami)|salam(?:\s+\w+){0,2}|wassalam\S*(?:\s+\S+){0,3}"
    r"|terima\s*kasih(?:\s+\S+){0,4}|terimakasih(?:\s+\S+){0,4}|(?:best\s+|kind\s+|warm\s+)?regards"
    r"|tabik|tertanda|ttd\.?)\s*[,.!]*\s*$",
    re.IGNORECASE,
)
_SIGNATURE_LINES = 7


def _closings_from_end(lines: list[str]):
    """Indexes of the closing lines ("Salam,"), last first: signatures sit at the end, so
    callers that want the last one stop after a few lines instead of matching them all."""
    for i in range(len(lines) - 1, -1, -1):
        if _CLOSING_RE.match(lines[i]):
            yield i


def _signature_block(text: str) -> str | None:
    """The lines after the last closing ("Hormat saya,", "Salam,", ...), or None."""
    lines = _lines(text)
    last = next(_closings_from_end(lines), None)
    if last is None:
        return None
    return "\n".join(lines[last + 1:])


# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------

# Words that never appear in a person's name as written in a signature: roles, bodies,
# places, contact labels, closing words, common verbs after "Saya ...".
_NOT_NAME_WORDS = frozenset("""
partai dpc dpd dpw dpp dpac pac ranting lo liaison officer penghubung petugas admin administrator
operator sekretaris sekjen sekretariat ketua ketum wakil bendahara pengurus kepengurusan anggota
staf staff tim team bidang divisi bagian humas umum kabupaten kab kota provinsi prov kecamatan
kec desa kelurahan mesuji lampung indonesia kpu bawaslu helpdesk help desk sipol kantor jl jalan
telp tel telepon hp wa whatsapp email e-mail surel no nomor hormat salam terima kasih wassalam
regards best dengan dari untuk kepada yth mohon info informasi cabang daerah wilayah pusat dewan
pimpinan ttd tanda tangan tertanda sent from iphone android dikirim selaku sebagai ingin mau hendak
akan sudah telah yang ini itu juga sangat bermaksud menanyakan bertanya perwakilan mewakili kami
saya anda kita mereka adalah bernama the and of noreply no-reply mailer daemon postmaster
support system sistem server notifikasi notification data verifikasi pendaftaran panitia
kepala pribadi minta sekali sendiri baru dulu
""".split())
_PARTICLES = frozenset({"bin", "binti", "van", "de", "al", "el", "da"})
_ADDRESS_FORMS_RE = re.compile(
    r"^(?:bapak|bpk\.?|pak|ibu|bu|sdr\.?|sdri\.?|saudara|saudari|mas|mbak|kak)\s+", re.IGNORECASE
)
_NAME_WORD_RE = re.compile(r"[^\W\d_][^\W\d_'’.\-]*(?:['’.\-][^\W\d_]+)*\.?")


def _clean_name(candidate: str | None, *, need_capitals: bool, registry: PartyRegistry | None) -> str | None:
    """`candidate` tidied when it looks like a person's name, else None."""
    if not candidate:
        return None
    s = " ".join(candidate.replace("\u00a0", " ").split())
    s = s.strip(" \t\"'*_=~<>[]")
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1].strip()
    s = re.sub(r"\s*\([^()]*\)\s*$", "", s)  # "Budi Santoso (LO PKB)"
    s = re.split(r"\s+[-–—|/]\s+", s, maxsplit=1)[0]  # "Budi Santoso - LO Partai Gelora"
    s = s.rstrip(",;: ")
    s = _ADDRESS_FORMS_RE.sub("", s).strip()
    if not s or len(s) > 60:
        return None
    if any(c.isdigit() for c in s) or "@" in s or "://" in s:
        return None
    core, _, degrees = s.partition(",")  # "Budi Santoso, S.H., M.H."
    words = core.split()
    if not 1 <= len(words) <= 5:
        return None
    for w in words:
        if not _NAME_WORD_RE.fullmatch(w):
            return None
        bare = w.strip(".").lower()
        if bare in _NOT_NAME_WORDS:
            return None
        if need_capitals and not w[0].isupper() and bare not in _PARTICLES:
            return None
    if degrees:
        for d in degrees.split(","):
            d = d.strip()
            if not d or len(d) > 12 or not re.fullmatch(r"[A-Za-z][A-Za-z.]*", d):
                return None
    letters = [c for c in core if c.isalpha()]
    if len(words) == 1:
        if len(letters) < 3:
            return None
        if not need_capitals and core.islower():
            return None  # a lone lower-case word is a user name, not a name
        if core.isupper() and len(letters) <= 4:
            return None  # an acronym
    reg = registry if registry is not None else default_registry()
    if reg.mentions(core):
        return None  # a party name, not a person
    if s.endswith(".") and re.search(r"[a-z]{3}\.$", s) and not degrees:
        s = s[:-1]
    return s


_NAMA_LINE_RE = re.compile(
    r"^[ \t>*\-•]*nama(?:[ \t]+(?:lengkap|pengirim|penanya|pemohon|lo|petugas[ \t]+penghubung|penghubung))?"
    r"[ \t]*[:：=][ \t]*(?P<value>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_MEMBER_DATA_RE = re.compile(r"\b(?:NIK|KTA|KTP|No\.?\s*KK)\b|\d{16}", re.IGNORECASE)
_INTRO_RE = re.compile(
    r"(?<![\w])(?i:nama[ \t]+saya|saya)[ \t]*,?[ \t]+(?i:adalah[ \t]+|bernama[ \t]+)?"
    r"(?P<name>[A-Z][\w'’.\-]*(?:[ \t]+(?:[A-Z][\w'’.\-]*|bin|binti))*)"
    r"(?P<after>[ \t]*(?:[,.;:(\n]|$|[ \t]*(?i:dari|selaku|sebagai|adalah|yang|ingin|mau|hendak|akan|"
    r"mewakili|bermaksud|bertindak|merupakan|menjabat|di|ke|untuk)\b))?"
)


def _name_from_field(text: str, registry: PartyRegistry | None) -> str | None:
    if "nama" not in _lowered(text) and not _folds_to_ascii(text):
        return None  # every "Nama: ..." line has it: no need for the regex scan
    lines = _lines(text)
    found: list[tuple[int, str]] = []
    for m in _NAMA_LINE_RE.finditer(text):
        line_no = text.count("\n", 0, m.start())
        found.append((line_no, m.group("value")))
    values = {v.strip().lower() for _, v in found if v.strip()}
    if len(values) != 1:
        return None  # none, or a list (members' data): not the writer
    for line_no, value in found:
        near = "\n".join(lines[max(0, line_no - 2): line_no + 3])
        if _MEMBER_DATA_RE.search(near):
            return None
        name = _clean_name(value, need_capitals=False, registry=registry)
        if name:
            return name
    return None


def _intro_matches(text: str):
    """`_INTRO_RE.finditer(text)`, tried only where a whole word "saya" is (every match
    starts at it or at the "nama" right before it) instead of at every offset."""
    lowered = _lowered(text)
    if len(lowered) != len(text) or _folds_to_ascii(text):
        yield from _INTRO_RE.finditer(text)
        return
    starts: list[int] = []
    size = len(lowered)
    i = lowered.find("saya")
    while i >= 0:
        j = i + 4
        if not ((i and _is_word_char(lowered[i - 1])) or (j < size and _is_word_char(lowered[j]))):
            k = i
            while k and lowered[k - 1] in " \t":
                k -= 1
            if k < i and lowered[max(0, k - 4):k] == "nama":
                starts.append(k - 4)
            starts.append(i)
        i = lowered.find("saya", i + 1)
    last_end = 0
    for start in starts:  # already in order
        if start < last_end:
            continue
        m = _INTRO_RE.match(text, start)
        if m is not None:
            last_end = m.end()
            yield m


def _name_from_intro(text: str, registry: PartyRegistry | None) -> str | None:
    for m in _intro_matches(text):
        if m.group("after") is None:
            continue
        words = m.group("name").split()
        kept: list[str] = []
        for w in words:
            if w.strip(".,").lower() in _NOT_NAME_WORDS:
                break
            kept.append(w)
        name = _clean_name(" ".join(kept), need_capitals=True, registry=registry)
        if name:
            return name
    return None


def _name_from_signature(text: str, registry: PartyRegistry | None) -> str | None:
    lines = _lines(text)
    for mark in _closings_from_end(lines):
        seen = 0
        for line in lines[mark + 1:]:
            if not line.strip():
                continue
            seen += 1
            if seen > _SIGNATURE_LINES:
                break
            if _CLOSING_RE.match(line):
                break
            name = _clean_name(line, need_capitals=True, registry=registry)
            if name:
                return name
    return None


def _name_with_source(
    text: str, from_name: str | None, registry: PartyRegistry | None
) -> tuple[str | None, str | None]:
    body = strip_quoted(text or "")
    for finder, source in (
        (_name_from_field, "body"),
        (_name_from_intro, "body"),
        (_name_from_signature, "signature"),
    ):
        name = finder(body, registry)
        if name:
            return name, source
    name = _clean_name(from_name, need_capitals=False, registry=registry) if from_name else None
    if name:
        return name, "from-header"
    return None, None


def extract_name(text: str, from_name: str | None = None, *, registry: PartyRegistry | None = None) -> str | None:
    """The writer's name: a "Nama: ..." line, an intro ("Saya Budi Santoso dari ..."), the
    signature after "Hormat saya," / "Salam,", else the From display name when it looks like
    a person (not an address, not "Admin", not a party). Quoted text is ignored.

    `registry` (default: the seed parties) is used to tell party names from people.
    """
    return _name_with_source(text, from_name, registry)[0]


# ---------------------------------------------------------------------------------------
# Party registry
# ---------------------------------------------------------------------------------------

_ADDRESS_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_DOMAIN_RE = re.compile(r"@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)+")
# A party domain entry for a public mail service would claim all its users for one party.
_PUBLIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.id", "ymail.com", "rocketmail.com",
    "hotmail.com", "outlook.com", "outlook.co.id", "live.com", "msn.com", "icloud.com", "me.com",
    "aol.com", "proton.me", "protonmail.com", "mail.com", "gmx.com", "yandex.com", "zoho.com",
})

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
_MASK_RE = re.compile(r"[^\s@]+@\S+|(?:https?://|www\.)\S+", re.IGNORECASE)  # [^\s@]: linear, no backtracking
_WORD_RE = re.compile(r"\w+")
_LIST_GAP_RE = re.compile(r"\s*,?\s*(?:(?:dan|atau|serta|maupun|&|/)\s+)?", re.IGNORECASE)
_CLAUSE_BREAK_RE = re.compile(r"[.;!?,()\[\]\n]")
_PREFIX = r"(?:(?:(?:dpc|dpd|dpw|dpp)[ \t]+)?partai[ \t]+|(?:dpc|dpd|dpw|dpp)[ \t]+)"


def _letters(term: str) -> int:
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


def _term_patterns(term: str, *, prefixable: bool) -> list[re.Pattern[str]]:
    """Regexes for one name of a party (whole words only)."""
    body = _term_body(term)
    low = term.lower()
    tail = ""
    if low in _NOT_FOLLOWED_BY:
        phrases = [r"\s+".join(re.escape(w) for w in p.split()) for p in _NOT_FOLLOWED_BY[low]]
        tail = "".join(r"(?!\s+(?i:" + p + r")\b)" for p in phrases)
    lb, la = r"(?<![\w\-])", r"(?![\w\-])"
    pats: list[re.Pattern[str]] = []
    if _letters(term) < 4:
        pats.append(re.compile(lb + body + la + tail))  # "PKB", "PAN": upper case only
        relaxed = re.compile(lb + "(?i:" + _PREFIX + ")" + ("(?i:" + body + ")" if _letters(term) >= 3 else body) + la)
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


def _norm_address(value: str) -> str:
    v = value.strip().strip("<>").strip().lower()
    if v.startswith("mailto:"):
        v = v[7:]
    return v


class _Term(NamedTuple):
    """One regex for one name of a party, with what lets `mentions` skip or narrow it."""

    pattern: re.Pattern[str]
    party: Party
    tiny: bool  # a two-letter short name ("PA"): too ambiguous unless it is the writer's own
    anchor: str  # a whole word every match contains ("" if none); upper case: case-sensitive
    key: bytes  # the anchor as `_ascii_words` spells it
    lead: int  # how many words a match can have before its anchor
    hint: str  # for a term without anchor ("PDI-P"): a piece every match contains


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
        self._terms: list[_Term] = []
        for p in sorted(parties, key=lambda p: p.number):
            self._add_party(p)
        for c in contacts:
            self._add_contact(c)
        # The terms by anchor key (and those without one), each with its registry
        # position: `mentions` visits only the keys that are words of the text.
        self._by_key: dict[bytes, list[tuple[int, _Term]]] = {}
        self._unanchored: list[tuple[int, _Term]] = []
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
            tiny = _letters(term) <= 2
            # The anchor is the term's most telling whole word ("Partai" is in every other
            # mail): a text whose words do not include it cannot match. An upper-case-only
            # pattern ("PKB") gets a case-sensitive anchor. A term with no plain word
            # ("PDI-P") has none and is always tried.
            words = [w for w in term.split() if re.fullmatch(r"\w+", w)]
            telling = [w for w in words if w.casefold() != "partai"] or words
            word = max(telling, key=len) if telling else ""
            hint = max(re.split(r"[-'’`\s]+", term.lower()), key=len)
            for k, pat in enumerate(_term_patterns(term, prefixable=prefixable)):
                exact = k == 0 and _letters(term) < 4
                anchor = word if exact else word.casefold()
                # Words a match can hold before its anchor: the name's own, plus "DPC
                # Partai" for the relaxed pattern (k == 1).
                lead = len(_WORD_RE.findall(term[:term.index(word)])) + 2 * k if word else 0
                self._terms.append(_Term(pat, p, tiny and k == 0, anchor, anchor.lower().encode(), lead, hint))

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
        seed = _read_toml(seed_path)
        _check_keys(seed, {"party", "contact"}, f"{seed_path}")
        entries = _table_list(seed, "party", seed_path)
        if not entries:
            raise RegistryError(f"{seed_path}: no [[party]] entries")
        parties: dict[int, dict] = {}
        for i, entry in enumerate(entries, 1):
            rec = _seed_entry(entry, i, seed_path)
            if rec["number"] in parties:
                raise RegistryError(f"{seed_path}: [[party]] #{i}: number {rec['number']} is used twice")
            parties[rec["number"]] = rec
        contact_entries = list(_table_list(seed, "contact", seed_path))
        sources = [(seed_path, e, i) for i, e in enumerate(contact_entries, 1)]
        if extra_path is not None:
            extra_path = Path(extra_path)
            extra = _read_toml(extra_path)
            _check_keys(extra, {"party", "contact"}, f"{extra_path}")
            for i, entry in enumerate(_table_list(extra, "party", extra_path), 1):
                _merge_extra(parties, entry, i, extra_path)
            sources += [(extra_path, e, i) for i, e in enumerate(_table_list(extra, "contact", extra_path), 1)]
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
        return self._contacts.get(_norm_address(email))

    @property
    def contacts(self) -> tuple[Contact, ...]:
        return tuple(self._contacts.values())

    def by_address(self, email: str | None) -> Party | None:
        """The party a sender address belongs to: a listed address or contact, else a listed domain."""
        if not email:
            return None
        key = _norm_address(email)
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

    def mentions(self, text: str) -> list[Mention]:
        """Every party named in `text` (overlaps resolved leftmost-longest), with its role."""
        if not text:
            return []
        lowered = _lowered(text)
        if len(lowered) != len(text):  # a few letters ("İ") lower into two: offsets differ
            return self._mentions_slow(text)
        masked = _mask_addresses(text, lowered)
        if masked is not text:
            lowered = masked.lower()
        # Only the terms whose anchor is a word of the text (a handful of ~70), in
        # registry order: ties in `_resolve` keep the first.
        todo = [it for key in _ascii_words(lowered, self._keys) for it in self._by_key[key]]
        todo += [it for it in self._unanchored if it[1].hint in lowered]
        todo.sort(key=lambda it: it[0])
        raw: list[tuple[int, int, Party, bool]] = []
        for _, term in todo:
            found = _near_anchor(term, masked, lowered) if term.anchor else term.pattern.finditer(masked)
            for m in found:
                raw.append((m.start(), m.end(), term.party, term.tiny))
        return self._resolve(text, masked, raw)

    def _resolve(self, text: str, masked: str, raw: list[tuple[int, int, Party, bool]]) -> list[Mention]:
        """Overlapping matches → leftmost-longest mentions, each with its role."""
        if not raw:
            return []
        raw.sort(key=lambda r: (r[0], -(r[1] - r[0])))
        sig_start = _signature_offset(masked)
        out: list[Mention] = []
        last_end = -1
        for start, end, party, tiny in raw:
            if start < last_end:
                continue
            last_end = end
            role = _role(masked, start, end, sig_start)
            if out and out[-1].role == "other" and _LIST_GAP_RE.fullmatch(masked[out[-1].end:start]):
                role = "other"  # "ganda dengan PKB, PKS dan PAN": the whole list
            if tiny and role == "neutral":
                role = "other"  # "PA" alone is too ambiguous to name the writer's party
            out.append(Mention(party, start, end, text[start:end], role))
        return out

    def _mentions_slow(self, text: str) -> list[Mention]:
        """`mentions` for the rare text whose lower-case form has other offsets: every
        pattern scans the whole text."""
        masked = _MASK_RE.sub(lambda m: " " * len(m.group(0)), text)
        raw = [(m.start(), m.end(), t.party, t.tiny) for t in self._terms for m in t.pattern.finditer(masked)]
        return self._resolve(text, masked, raw)

    def find_in_text(self, text: str) -> Party | None:
        """The party the writer belongs to, as named in a subject or body; None when unclear.

        Names, short names and aliases match as whole words; short names under four letters
        ("PKB", "PAN", "PA") only in upper case (or after "Partai"/"DPC"); overlapping
        matches keep the longest ("Partai Nasional Demokrat" is NasDem, not Demokrat).
        The first mention that reads as the writer's own ("kami dari DPC ...", "LO Partai
        ...", a line of the signature) wins; mentions of other parties ("ganda dengan
        PKB") are ignored; otherwise the answer is the one party mentioned, or None when
        several are. A two-letter short name ("PA") counts only as the writer's own.
        """
        ms = self.mentions(text)
        for m in ms:
            if m.role == "self":
                return m.party
        neutral = {m.party.number: m.party for m in ms if m.role == "neutral"}
        if len(neutral) == 1:
            return next(iter(neutral.values()))
        return None



# Bytes that belong to a word for the anchor test: ASCII letters (folded to lower case),
# digits and "_". Every other byte, UTF-8 sequences included, separates words; anchors are
# ASCII, so an anchor that is a whole word of the text is always one of these tokens.
_WORD_BYTES = bytes(
    (c + 32 if 65 <= c <= 90 else c) if chr(c).isascii() and (chr(c).isalnum() or c == 95) else 32
    for c in range(256)
)


def _ascii_words(lowered: str, wanted: frozenset[bytes]) -> set[bytes]:
    """Which of the `wanted` words (ASCII, lower case) are whole words of a text: a C-speed
    pass (`re.findall` plus a set of ~3,000 str objects cost ~10x more on a 20 KB body);
    intersecting keeps no set of all the text's words."""
    return wanted.intersection(lowered.encode("utf-8", "surrogatepass").translate(_WORD_BYTES).split())


def _mask_addresses(text: str, lowered: str) -> str:
    """`_MASK_RE` blanked out (addresses and links name no party). Its matches never span
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
        out.append(_MASK_RE.sub(lambda m: " " * len(m.group(0)), text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"  # what `re` calls \w


def _word_starts_before(text: str, i: int, count: int) -> list[int]:
    """Starts of the `count` words before offset `i` (fewer at the start of the text)."""
    out: list[int] = []
    j = i
    while len(out) < count:
        j -= 1
        while j >= 0 and not _is_word_char(text[j]):
            j -= 1
        if j < 0:
            break
        while j > 0 and _is_word_char(text[j - 1]):
            j -= 1
        out.append(j)
    return out


def _near_anchor(term: _Term, masked: str, lowered: str):
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
        if not ((i and _is_word_char(haystack[i - 1])) or (j < size and _is_word_char(haystack[j]))):
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


def _signature_offset(text: str) -> int | None:
    """Offset where the signature starts (the line after the last closing), or None."""
    tail = 0
    for line in reversed(text.splitlines(keepends=True)):
        if _CLOSING_RE.match(line):
            return len(text) - tail
        tail += len(line)
    return None


def _role(text: str, start: int, end: int, sig_start: int | None) -> str:
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


# -- loading helpers ----------------------------------------------------------------------


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise RegistryError(f"{path}: file not found") from None
    except OSError as e:
        raise RegistryError(f"{path}: cannot read ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise RegistryError(f"{path}: not valid TOML: {e}") from None


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RegistryError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _table_list(data: dict, key: str, path: Path) -> list[dict]:
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
        addr = _norm_address(a)
        if addr.startswith("@"):
            if not _DOMAIN_RE.fullmatch(addr):
                raise RegistryError(f"{what}: {a!r} is not a domain entry like '@partai.example.org'")
            if addr[1:] in _PUBLIC_MAIL_DOMAINS:
                raise RegistryError(
                    f"{what}: {a!r} is a public mail service; list the liaison's own address instead"
                )
        elif not _ADDRESS_RE.fullmatch(addr):
            raise RegistryError(f"{what}: {a!r} is not an email address")
        if addr not in out:
            out.append(addr)
    return out


def _seed_entry(entry: dict, i: int, path: Path) -> dict:
    num = entry.get("number")
    label = f"{path}: [[party]] #{i}" + (f" (number {num})" if isinstance(num, int) else "")
    _check_keys(entry, {"number", "name", "short", "aliases", "addresses", "local"}, label)
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


def _merge_extra(parties: dict[int, dict], entry: dict, i: int, path: Path) -> None:
    num, short = entry.get("number"), entry.get("short")
    label = f"{path}: [[party]] #{i}" + (f" (number {num})" if num is not None else "") + (
        f" ({short!r})" if short is not None else "")
    _check_keys(entry, {"number", "short", "addresses", "aliases"}, label)
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


def _contact_entry(entry: dict, i: int, path: Path, registry: PartyRegistry) -> Contact:
    email = entry.get("email")
    label = f"{path}: [[contact]] #{i}" + (f" ({email!r})" if isinstance(email, str) else "")
    _check_keys(entry, {"email", "name", "phone", "party"}, label)
    if not isinstance(email, str) or not _ADDRESS_RE.fullmatch(_norm_address(email)):
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
    return Contact(email=_norm_address(email), name=" ".join(name.split()) if name else None,
                   phone=e164, party=party)


@lru_cache(maxsize=1)
def default_registry() -> PartyRegistry:
    """The seed parties (no addresses, no contacts); cached."""
    return PartyRegistry.load(DEFAULT_PARTIES_PATH)


# ---------------------------------------------------------------------------------------
# Putting it together
# ---------------------------------------------------------------------------------------


def _phone_with_source(body: str) -> tuple[str | None, str | None]:
    sig = _signature_block(body)
    if sig:
        phones = extract_phones(sig)
        if phones:
            return phones[0], "signature"
    phones = extract_phones(body)
    if phones:
        return phones[0], "body"
    return None, None


def identify(msg: InboundMessage, registry: PartyRegistry) -> IdentityGuess:
    """Best guess of who wrote `msg`.

    Email: the From address (lower-case), else the first Reply-To. Then the contact
    record for that address gives name, party and phone; what it lacks comes from, for
    the party: the registry's addresses, the From display name, the subject, the body;
    for the name: the body ("Nama:", "Saya ..."), the signature, the From display name;
    for the phone: the signature, then the body. Quoted text is ignored.
    """
    email = email_source = None
    display: str | None = None
    if msg.from_addr is not None and msg.from_addr.email.strip():
        email, email_source, display = msg.from_addr.key, "from-header", msg.from_addr.name
    else:
        for a in msg.reply_to:
            if a.email.strip():
                email, email_source, display = a.key, "reply-to", a.name
                break
        if display is None and msg.from_addr is not None:
            display = msg.from_addr.name

    name = name_source = phone = phone_source = None
    party: Party | None = None
    party_source: str | None = None

    contact = registry.contact(email)
    if contact is not None:
        if contact.name:
            name, name_source = contact.name, "contact"
        if contact.phone:
            phone, phone_source = contact.phone, "contact"
        if contact.party is not None:
            party, party_source = contact.party, "contact"

    body = strip_quoted(msg.text or "")
    if party is None:
        for found, source in (
            (lambda: registry.by_address(email), "registry"),
            (lambda: registry.find_in_text(display or ""), "from-header"),
            (lambda: registry.find_in_text(msg.subject or ""), "subject"),
            (lambda: registry.find_in_text(body), "body"),
        ):
            p = found()
            if p is not None:
                party, party_source = p, source
                break
    if name is None:
        name, name_source = _name_with_source(body, display, registry)
    if phone is None:
        phone, phone_source = _phone_with_source(body)
    return IdentityGuess(
        name=name, name_source=name_source,
        party=party, party_source=party_source,
        phone=phone, phone_source=phone_source,
        email=email, email_source=email_source,
    )


_GREETING_RE = re.compile(
    r"^\s*(?:(?:selamat\s+(?:pagi|siang|sore|malam))|assalamu\S*(?:\s+\S+){0,4}|yth\.?.*|dengan\s+hormat|"
    r"halo.*|hai.*|kepada\s+yth.*)\s*[,.!]*\s*$", re.IGNORECASE)
_CONTACT_LINE_RE = re.compile(r"^\s*(?:(?:hp|wa|telp|telepon|no\.?\s*hp|nama|email|surel)\b.*|[+\d][\d\s().-]{6,})$",
                              re.IGNORECASE)


def question_text(text: str, limit: int | None = None) -> str:
    """The question itself, for FAQ ranking: no quoted history, greeting, closing, signature
    or contact lines — their words dilute the score of a well-covered question.

    With `limit`, the first `limit` characters of that (the ranking reads no more): the
    lines after them are not examined."""
    lines = _lines(strip_quoted(text))
    kept = []
    size = 0  # characters kept from the first non-blank one on
    for line in lines:
        if _CLOSING_RE.match(line) or line.strip() in ("--", "-- "):
            break  # everything after a closing is signature
        if _GREETING_RE.match(line) or _CONTACT_LINE_RE.match(line):
            continue
        kept.append(line)
        if limit is not None:
            size += len(line) + 1 if size else len(line.lstrip())
            if size > limit:
                break
    out = "\n".join(kept).strip()
    return out if limit is None else out[:limit]
