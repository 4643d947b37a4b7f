"""FAQ text preparation: the question part of a mail, and text -> index terms.

`question_text` keeps the question itself (no quoted history, greeting, closing, signature
or contact lines). `tokenize` is the one pipeline for FAQ entries and questions alike.
The lexicon (chat spelling, synonyms, stop-word adjustments) is the data file
tickets/data/faq_lexicon.toml, read once at import.

Questions arrive in informal Indonesian from party liaison officers ("gmn caranya dapet
login sipol utk DPC?"). Each text goes through one pipeline, for the FAQ and for the query
alike, so both sides land in the same vocabulary:

1. lower-case; ``30%`` → ``30 persen``; ``1.000`` → ``1000``; split on anything that is
   not a letter or digit; drop digit runs longer than 4 (NIKs, phone numbers).
2. chat spelling → standard words (``yg`` → ``yang``, ``gmn`` → ``bagaimana``).
3. synonyms and abbreviations of election administration, longest phrase first
   (``kartu tanda anggota`` ≡ ``KTA``, ``petugas penghubung`` ≡ ``LO``, ``verifikasi
   faktual`` ≡ ``verfak``, ``tidak memenuhi syarat`` ≡ ``TMS``, ``HP``/``WA`` ≡ telepon,
   ``dobel`` ≡ ganda …). A synonym's output skips the stop list.
4. stop words: Sastrawi's list minus a few words that carry meaning here (``baru``,
   ``jumlah``, ``tetap`` …), plus helpdesk fillers (``min``, ``bapak``, ``terima kasih``,
   greetings). Bare ``admin`` is a filler ("Min, …"); ``admin sipol`` is caught by step 3.
5. Sastrawi stemming (cached per token; Sastrawi is slow on a cold word). Before that, a
   word with one prefix/suffix taken off is tried against the synonym table, because
   Sastrawi leaves loanwords alone: ``diverfak`` → verfak, ``uploadnya`` → unggah.
"""
from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from .quoting import CLOSING_RE, own_lines
from .text import Body

__all__ = ["question_text", "tokenize"]

LEXICON_PATH = Path(__file__).parent / "data" / "faq_lexicon.toml"


def _read_lexicon(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


# Read once: the tables are constants of the pipeline (an edit needs a restart, like code).
_LEXICON = _read_lexicon(LEXICON_PATH)
# Chat spelling and shorthand → standard Indonesian, applied to raw tokens first.
_SLANG: dict[str, str] = _LEXICON["slang"]
# Phrase of raw (post-slang) tokens → the canonical words it stands for, never stemmed or
# stop-filtered.
_SYNONYMS: dict[str, str] = _LEXICON["synonyms"]
# Words Sastrawi lists as stop words that carry meaning in this domain.
_KEEP = frozenset(_LEXICON["stop_words"]["keep"])
# Helpdesk fillers: forms of address, politeness, chat particles.
_EXTRA_STOP = frozenset(_LEXICON["stop_words"]["extra"])


@functools.cache
def stop_word_set() -> frozenset[str]:
    from Sastrawi.StopWordRemover.StopWordRemoverFactory import StopWordRemoverFactory  # noqa: PLC0415 - lazy: Sastrawi loads only at the first search

    sastrawi = StopWordRemoverFactory().get_stop_words()
    return (frozenset(sastrawi) - _KEEP) | _EXTRA_STOP


@functools.cache
def _stemmer():
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory  # noqa: PLC0415 - lazy: Sastrawi's stemmer takes ~50 ms to load; built at first search

    return StemmerFactory().create_stemmer()


@functools.lru_cache(maxsize=65536)  # the stem cache, one word each: first FAQ pass 0.4 ms a question, repeats 0.02 ms
def _stem(word: str) -> str:
    if word.isdigit():
        return word
    return _stemmer().stem(word) or word


_PHRASES: dict[tuple[str, ...], tuple[str, ...]] = {}
_PHRASE_STARTS: set[str] = set()  # first words of the multi-word phrases
_MAX_PHRASE = 1


def _build_phrases() -> None:
    global _MAX_PHRASE
    for key, value in _SYNONYMS.items():
        words = tuple(key.split())
        _PHRASES[words] = tuple(value.split())
        _MAX_PHRASE = max(_MAX_PHRASE, len(words))
        if len(words) > 1:
            _PHRASE_STARTS.add(words[0])
    # A canonical word met as such keeps its form (the stemmer would turn "ukuran" into "ukur").
    for value in _SYNONYMS.values():
        for word in value.split():
            _PHRASES.setdefault((word,), (word,))


_build_phrases()

# A thousands separator: "1.500.000" is one number. The digit before it is matched and put
# back, not looked behind at: a lookbehind start gets no fast scan from `re` (~1.5x slower).
_THOUSANDS = re.compile(r"(\d)[.,](?=\d{3}(?!\d))")
# Tokens are runs of [0-9a-z] of the lowered text: every other character (non-ASCII
# letters included) separates them. (A byte-table split was ~5 µs faster per 600-character
# question, under 1 % of a message's analysis: not worth its strangeness; 2026-12-04.)
_TOKEN_RE = re.compile(r"[0-9a-z]+")


def tokenize(text: str) -> list[str]:
    """Text → index terms (see the module docstring for the pipeline)."""
    text = _THOUSANDS.sub(r"\1", text.lower()).replace("%", " persen ")
    raw: list[str] = []
    for tok in _TOKEN_RE.findall(text):
        raw.extend(_raw_terms(tok))
    out: list[str] = []
    size, i = len(raw), 0
    starts, phrases, terms = _PHRASE_STARTS, _PHRASES, _token_terms  # locals: a hot loop
    while i < size:
        tok = raw[i]
        if tok in starts:
            for n in range(min(_MAX_PHRASE, size - i), 1, -1):
                repl = phrases.get(tuple(raw[i:i + n]))
                if repl is not None:
                    out.extend(repl)
                    i += n
                    break
            else:
                out.extend(terms(tok))
                i += 1
        else:
            out.extend(terms(tok))
            i += 1
    return out


@functools.lru_cache(maxsize=65536)  # keyed on one token, like the stem cache
def _raw_terms(tok: str) -> tuple[str, ...]:
    """One split token → the raw words it stands for (chat shorthand expanded; none for
    an empty piece or a long number)."""
    if not tok or (tok.isdigit() and len(tok) > 4):
        return ()
    return tuple(_SLANG.get(tok, tok).split())


@functools.lru_cache(maxsize=65536)  # keyed on one token
def _token_terms(tok: str) -> tuple[str, ...]:
    """The terms of one token outside any phrase (none for a stop word)."""
    if tok in _SYNONYMS:  # an explicit synonym wins over the stop list ("terakhir")
        return _PHRASES[(tok,)]
    if tok in stop_word_set() or (len(tok) == 1 and not tok.isdigit()):
        return ()
    return _word_terms(tok)


_PREFIXES = ("di", "ter", "ke", "meng", "mem", "men", "me", "ber", "be", "se", "peng", "pen", "pe")
_SUFFIXES = ("nya", "kan", "an", "i")


@functools.lru_cache(maxsize=65536)  # keyed on one word: the affix tries and the stem
def _word_terms(word: str) -> tuple[str, ...]:
    """One non-stop word → its index terms: a synonym's canonical form, else the stem.

    Before stemming, try the word with at most one prefix and one suffix taken off, and
    accept the result only if it is a synonym key: Sastrawi only strips affixes off words
    in its dictionary, so chat loanwords keep theirs ("diverfak", "terinput", "uploadnya"),
    and some of its stems merge words this domain keeps apart ("kepengurusan" and
    "mengurus" both become "urus"). Canonical forms are never stemmed.
    """
    for cand in _affix_candidates(word):
        repl = _PHRASES.get((cand,))
        if repl is not None:
            return repl
    stem = _stem(word)
    return _PHRASES.get((stem,), (stem,))


def _affix_candidates(word: str) -> Iterator[str]:
    for pre in ("", *_PREFIXES):
        if pre and not word.startswith(pre):
            continue
        rest = word[len(pre):]
        for suf in ("", *_SUFFIXES):
            if suf and not rest.endswith(suf):
                continue
            cand = rest[: len(rest) - len(suf)] if suf else rest
            if len(cand) >= 2:
                yield cand


_GREETING_RE = re.compile(
    r"^\s*(?:(?:selamat\s+(?:pagi|siang|sore|malam))|assalamu\S*(?:\s+\S+){0,4}|yth\.?.*|dengan\s+hormat|"
    r"halo.*|hai.*|kepada\s+yth.*)\s*[,.!]*\s*$", re.IGNORECASE)
_CONTACT_LINE_RE = re.compile(r"^\s*(?:(?:hp|wa|telp|telepon|no\.?\s*hp|nama|email|surel)\b.*|[+\d][\d\s().-]{6,})$",
                              re.IGNORECASE)


def question_text(text: str | Body, limit: int | None = None) -> str:
    """The question itself, for FAQ ranking: no quoted history, greeting, closing, signature
    or contact lines — their words dilute the score of a well-covered question.

    `text`: a mail body, or its `Body` when the caller has built one. With `limit`, the
    first `limit` characters of that (the ranking reads no more): the lines after them
    are not examined."""
    lines = text.lines if isinstance(text, Body) else own_lines(text)
    kept = []
    size = 0  # characters kept from the first non-blank one on
    for line in lines:
        if CLOSING_RE.match(line) or line.strip() in ("--", "-- "):
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
