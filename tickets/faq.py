"""The FAQ Sipol knowledge base: load, validate, search, and hot-reload it.

The FAQ is a hand-edited TOML file (``[[faq]]`` tables with ``id``, ``question``,
``answer``, ``keywords``, ``source``). Officers edit it while the daemon runs, so
:class:`FaqLibrary` re-reads it when the file changes and, if an edit does not validate,
keeps serving the last good version and logs a WARNING: a typo in the FAQ must never take
the helpdesk down.

Ranking
-------
Questions arrive in informal Indonesian from party liaison officers; the FAQ entries and
the questions go through the same pipeline (tickets/faq_text.py: chat spelling, synonyms,
stop words, stemming), so both sides land in the same vocabulary.

Scoring is BM25F (Robertson & Zaragoza) over three fields: question (weight 3),
keywords (weight 2), answer (weight 1), each with its own length normalisation, and one
IDF over the whole FAQ. It is implemented here (about 40 lines) rather than with
``rank_bm25.BM25Okapi``: on the seed FAQ both rank equally well (bench/faq_accuracy.py
--baseline), but BM25Okapi's IDF, log((N-df+0.5)/(df+0.5)), is 0 for a term in exactly
half the entries and negative above that (patched with an epsilon floor), so with a
one- or two-entry FAQ every score is 0 or negative and nothing is ever found; a
deployment's own FAQ may well start that small. Lucene's IDF, log(1 + (N-df+0.5)/(df+0.5)),
is always positive. BM25Okapi also scores one flat field (field weights would mean
repeating text) and needs numpy.

Score normalisation: for a query with distinct terms q₁…qₙ,

    score(q, d) = Σ idf(qᵢ) · t̃f(qᵢ, d) / (k1 + t̃f(qᵢ, d))   over terms in d
    best(q)     = Σ idf(qᵢ)                                   over all query terms

and :attr:`FaqHit.score` = score / best, in [0, 1). Since t̃f/(k1+t̃f) < 1, ``best`` is the
supremum any FAQ entry could reach, so the score reads as "the IDF-weighted share of the
question that this entry covers". A query term the FAQ never uses counts in ``best`` with
the IDF of a term in no entry — the most informative kind of term — which is what pushes
"harga tiket pesawat ke Jakarta" to 0: none of its content is in the FAQ. (Except a
derived function word, such as "penjelasan" → "jelas": an unseen term whose stem is a
stop word counts for nothing.) Dividing by a per-query constant keeps the ranking
identical to raw BM25F. See DEFAULT_THRESHOLD for the measured distributions.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import threading
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .faq_text import stop_word_set, question_text, tokenize
from .text import Body

log = logging.getLogger(__name__)

DEFAULT_FAQ_PATH = Path(__file__).parent / "data" / "faq_sipol.toml"

# Chosen from bench/faq_accuracy.py on tests/data/faq_questions.toml (90 in-scope,
# 15 out-of-scope questions). In-scope top hits: min 0.20, 10th percentile 0.30, median
# 0.51; out-of-scope best hits: 0 for five, 0.09–0.17 for nine, and 0.34 for "cara daftar
# CPNS tahun ini" (it shares "daftar" and "tahun" with the FAQ). At 0.25, 94% of in-scope
# questions are covered and 14 of 15 out-of-scope ones are not. Questions about other
# election matters (KPPS, pencoblosan, DPRD candidates) score 0.2–0.3: they share the
# domain's vocabulary, and sit at the border by nature.
DEFAULT_THRESHOLD = 0.25

# Naming one entry as *the* related one (e.g. in an escalation mail) needs more than
# "the FAQ covers this topic": the top hit must be the right entry. Measured with
# bench/faq_accuracy.py ("naming precision") over all 105 questions, counting a top hit of an
# out-of-scope question as unrelated: at 0.25 the named entry is right 92% of the time
# (86 named), at 0.40 95% (63 named), at 0.45 96% (54). Unrelated top hits reach 0.72 (a
# question sharing "daftar", "partai" and "tahun" with an entry), so no threshold separates
# perfectly; 0.40 keeps one wrong name in twenty and still names most related entries.
RELATED_THRESHOLD = 0.40


class FaqError(ValueError):
    """The FAQ file is invalid, or an FAQ id is unknown."""


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    keywords: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class FaqHit:
    entry: FaqEntry
    score: float  # 0..1: share of the question's IDF weight this entry covers (see module doc)


# ---------------------------------------------------------------------------------------
# BM25F index
# ---------------------------------------------------------------------------------------

# field: (weight, b). Keywords are short curated lists, so little length normalisation.
_FIELDS: dict[str, tuple[float, float]] = {
    "question": (3.0, 0.5),
    "keywords": (2.0, 0.3),
    "answer": (1.0, 0.75),
}
_K1 = 1.2


class _Bm25fIndex:
    """BM25F with the saturation computed once per (term, entry): a query is a dict walk."""

    def __init__(self, docs: Sequence[dict[str, list[str]]]) -> None:
        n = len(docs)
        avg = {f: (sum(len(d[f]) for d in docs) / n if n else 0.0) or 1.0 for f in _FIELDS}
        df: Counter[str] = Counter()
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for i, doc in enumerate(docs):
            tf: dict[str, float] = {}
            for f, (weight, b) in _FIELDS.items():
                norm = 1.0 - b + b * len(doc[f]) / avg[f]
                for term, count in Counter(doc[f]).items():
                    tf[term] = tf.get(term, 0.0) + weight * count / norm
            df.update(tf.keys())
            for term, t in tf.items():
                self.postings.setdefault(term, []).append((i, t / (_K1 + t)))
        self.idf = {t: math.log(1.0 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.idf_unseen = math.log(1.0 + (n + 0.5) / 0.5)
        self.size = n
        # What each term adds to each entry's score, multiplied out once, not per query.
        self._weighted = {t: (idf, [(i, idf * sat) for i, sat in self.postings[t]]) for t, idf in self.idf.items()}

    def scores(self, terms: Iterable[str]) -> tuple[dict[int, float], float]:
        """Raw BM25F score per entry index, and the best score any entry could reach."""
        acc: dict[int, float] = {}
        best = 0.0
        stop = stop_word_set()
        weighted = self._weighted
        for term in set(terms):
            found = weighted.get(term)
            if found is None:
                if term not in stop:  # "penjelasan" → "jelas": a function word in disguise
                    best += self.idf_unseen
                continue
            idf, adds = found
            best += idf
            for i, add in adds:
                acc[i] = acc.get(i, 0.0) + add
        return acc, best


# ---------------------------------------------------------------------------------------
# The knowledge base
# ---------------------------------------------------------------------------------------

_REQUIRED = ("id", "question", "answer")
_ALLOWED = frozenset({"id", "question", "answer", "keywords", "source"})


def _entry_from_table(table: object, position: int, origin: str) -> FaqEntry:
    raw_id = table.get("id") if isinstance(table, dict) else None
    label = f"entry #{position}"
    if isinstance(raw_id, str) and raw_id.strip():
        label += f" (id {raw_id.strip()!r})"

    def fail(problem: str) -> FaqError:
        return FaqError(f"{origin}: FAQ {label}: {problem}")

    if not isinstance(table, dict):
        raise fail("must be a table ([[faq]])")
    unknown = sorted(set(table) - _ALLOWED)
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED))
        raise fail(f"unknown field(s) {', '.join(unknown)} (allowed: {allowed})")
    values: dict[str, str] = {}
    for key in _REQUIRED:
        value = table.get(key)
        if value is None:
            raise fail(f"missing {key!r}")
        if not isinstance(value, str):
            raise fail(f"{key!r} must be a string, not {type(value).__name__}")
        if not value.strip():
            raise fail(f"empty {key!r}")
        values[key] = value.strip()
    keywords = table.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise fail("'keywords' must be a list of strings")
    source = table.get("source", "")
    if not isinstance(source, str):
        raise fail("'source' must be a string")
    return FaqEntry(
        id=values["id"],
        question=values["question"],
        answer=values["answer"],
        keywords=tuple(k.strip() for k in keywords if k.strip()),
        source=source.strip(),
    )


class FaqBase:
    """An immutable, searchable set of FAQ entries."""

    def __init__(self, entries: Iterable[FaqEntry], *, origin: str = "<faq>") -> None:
        self._entries: tuple[FaqEntry, ...] = tuple(entries)
        self.origin = origin
        self._by_id: dict[str, FaqEntry] = {}
        for position, entry in enumerate(self._entries, 1):
            first = self._by_id.get(entry.id)
            if first is not None:
                first_pos = self._entries.index(first) + 1
                raise FaqError(
                    f"{origin}: FAQ entry #{position} (id {entry.id!r}): duplicate id "
                    f"(already used by entry #{first_pos})"
                )
            self._by_id[entry.id] = entry

    @functools.cached_property
    def _index(self) -> _Bm25fIndex:
        # Built at the first search, not at load: stemming every entry is most of a
        # process's start-up (~50 ms), and a poll whose FAQ ranking runs in the analysis
        # workers never searches in the main process. Loading still validates the file.
        return _Bm25fIndex([
            {
                "question": tokenize(e.question),
                "keywords": tokenize(" . ".join(e.keywords)),
                "answer": tokenize(e.answer),
            }
            for e in self._entries
        ])

    @classmethod
    def load(cls, path: Path | str) -> FaqBase:
        """Read and validate a FAQ TOML file; raise :class:`FaqError` naming the bad entry."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FaqError(f"{path}: cannot read FAQ file: {exc.strerror or exc}") from exc
        return cls.parse(data, origin=str(path))

    @classmethod
    def parse(cls, data: bytes | str, *, origin: str = "<faq>") -> FaqBase:
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FaqError(f"{origin}: FAQ file is not UTF-8: {exc}") from exc
        try:
            doc = tomllib.loads(data)
        except tomllib.TOMLDecodeError as exc:
            raise FaqError(f"{origin}: FAQ file is not valid TOML: {exc}") from exc
        tables = doc.get("faq")
        if not isinstance(tables, list) or not tables:
            raise FaqError(f"{origin}: no [[faq]] entries found")
        entries = [_entry_from_table(t, i, origin) for i, t in enumerate(tables, 1)]
        return cls(entries, origin=origin)

    @property
    def entries(self) -> tuple[FaqEntry, ...]:
        return self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[FaqEntry]:
        return iter(self._entries)

    def __contains__(self, faq_id: object) -> bool:
        return faq_id in self._by_id

    def get(self, faq_id: str) -> FaqEntry:
        try:
            return self._by_id[faq_id]
        except KeyError:
            raise FaqError(f"unknown FAQ id {faq_id!r}") from None

    def search(self, text: str, limit: int = 3) -> list[FaqHit]:
        """The best `limit` entries for `text`, best first; entries sharing no term are left out."""
        if limit <= 0:
            return []
        scores, best = self._index.scores(tokenize(text))
        if best <= 0.0 or not scores:
            return []
        # Equal scores keep file order.
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [FaqHit(self._entries[i], min(1.0, raw / best)) for i, raw in ranked]

    def for_ticket(self, subject: str, body: str | Body, limit: int = 3) -> list[FaqHit]:
        """Suggestions for a party's question: its subject and the question itself, without
        greeting, signature or quoted history (their words dilute a well-covered question)."""
        return self.search(f"{subject}\n{question_text(body, 600)}", limit)

    @staticmethod
    def is_covered(hits: Sequence[FaqHit], threshold: float = DEFAULT_THRESHOLD) -> bool:
        """True when the best hit is good enough to answer from the FAQ."""
        return bool(hits) and hits[0].score >= threshold


# ---------------------------------------------------------------------------------------
# Hot reload
# ---------------------------------------------------------------------------------------

def _signature(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class FaqLibrary:
    """Holds the FAQ file's path and the last good :class:`FaqBase`, reloading on change.

    :meth:`current` costs one ``os.stat``. When the file's mtime, size or inode changed it
    re-reads the file; if the new content does not validate (or the file vanished) it logs
    a WARNING once per bad version and keeps serving the previous good base. Only the very
    first load may raise, because then there is nothing good to fall back on.
    """

    def __init__(self, path: Path | str = DEFAULT_FAQ_PATH) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:  # stat before reading: a write racing the read shows up as a change next call
            seen: tuple[int, int, int] | None = _signature(os.stat(self.path))
        except OSError:
            seen = None
        self._base = FaqBase.load(self.path)  # raises FaqError: nothing to fall back on yet
        self._seen = seen
        self.last_error: FaqError | None = None

    def current(self) -> FaqBase:
        try:
            sig: tuple[int, int, int] | None = _signature(os.stat(self.path))
        except OSError:
            sig = None
        if sig == self._seen:
            return self._base
        with self._lock:
            if sig == self._seen:  # another thread reloaded meanwhile
                return self._base
            self._seen = sig
            if sig is None:
                self.last_error = FaqError(f"{self.path}: FAQ file is missing")
                log.warning("%s; keeping the previous FAQ (%d entries)",
                            self.last_error, len(self._base))
                return self._base
            try:
                base = FaqBase.load(self.path)
            except FaqError as exc:
                self.last_error = exc
                log.warning("FAQ reload failed, keeping the previous FAQ (%d entries): %s",
                            len(self._base), exc)
                return self._base
            self._base = base
            self.last_error = None
            log.info("FAQ reloaded from %s: %d entries", self.path, len(base))
            return base

    def search(self, text: str, limit: int = 3) -> list[FaqHit]:
        return self.current().search(text, limit)

    def for_ticket(self, subject: str, body: str | Body, limit: int = 3) -> list[FaqHit]:
        return self.current().for_ticket(subject, body, limit)
