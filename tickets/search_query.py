"""What an officer typed into the queue's search box, as a peewee clause on `Ticket`: the
words against the full-text index (tickets/search.py), ticket references (`#12`,
`HD-MSJ #12`) as those tickets. The queue (`desk_queries`) and `tickets list --search`
share it. Nothing a user types reaches the engine's query language but words of letters and
digits: `"`, `*`, `NEAR(`, `OR`, `-` are no syntax (tests/e2e/test_search_postgres.py runs
the same hostile strings on both engines)."""
from __future__ import annotations

import logging
import re

import peewee as pw

from .models import Ticket, db
from .search import DATABASE_TROUBLE, catch_up, terms

log = logging.getLogger(__name__)

# `#12`, `HD-MSJ#12`, `[HD-MSJ` `#12]`: a written ticket reference (the tag, when attached,
# is checked against the helpdesk's own by the caller).
_REF = re.compile(r"\[?(?:(?P<tag>[^\W\d_][^#\[\]\s]*?))?#(?P<id>\d{1,18})\]?")


def _parse(words: str, tag: str) -> tuple[list[int], list[list[str]], bool]:
    """(ticket numbers written as references, the other words as lists of terms, whether
    the last word typed is the last of those: it is then matched as a beginning)."""
    refs, rest, last_is_word = [], [], False
    folded_tag = tag.casefold()
    for word in words.split():
        last_is_word = False
        bare = word.strip("[]")
        if not bare or bare.casefold() == folded_tag:
            continue  # the helpdesk's tag alone: part of a reference, on every ticket
        m = _REF.fullmatch(word)
        if m is not None and (m.group("tag") is None or m.group("tag").casefold() == folded_tag):
            refs.append(int(m.group("id")))
            continue
        found = terms(word)
        if found:  # a word of punctuation alone filters nothing
            rest.append(found)
            last_is_word = True
    return refs, rest, last_is_word


def _fts5_query(words: list[list[str]], prefix_last: bool) -> str:
    """An FTS5 query: every word a quoted phrase of its terms (`e-KTP` -> "e ktp"), all
    required; the last one a prefix. The terms are letters and digits only."""
    out = []
    for i, t in enumerate(words):
        star = "*" if prefix_last and i == len(words) - 1 and len(t[-1]) >= 2 else ""
        out.append('"' + " ".join(t) + '"' + star)
    return " ".join(out)


def _tsquery(words: list[list[str]], prefix_last: bool) -> str:
    """The same for PostgreSQL's to_tsquery: terms follow each other (<->), words AND'ed."""
    out = []
    for i, t in enumerate(words):
        star = ":*" if prefix_last and i == len(words) - 1 and len(t[-1]) >= 2 else ""
        out.append("(" + " <-> ".join(t) + star + ")")
    return " & ".join(out)


def _matching(words: list[list[str]], prefix_last: bool):
    """`Ticket.id IN (tickets whose document has every word)`."""
    database = db.obj
    p = database.param
    if isinstance(database, pw.PostgresqlDatabase):
        sub = pw.SQL(f"(SELECT ticket_id FROM ticket_search WHERE doc @@ to_tsquery('simple', {p}))",
                     [_tsquery(words, prefix_last)])
    else:
        sub = pw.SQL(f"(SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH {p})", [_fts5_query(words, prefix_last)])
    return Ticket.id.in_(sub)


def search_clause(words: str | None, tag: str):
    """The tickets matching what an officer typed, as a peewee expression for `.where()`;
    None when the words filter nothing (empty, punctuation, the tag alone).

    Every word must be in the ticket's document; the last word may be the beginning of one
    (`verifik` finds `verifikasi`). A reference (`#12`, `HD-MSJ #12`, `[HD-MSJ #12]`) is that
    ticket; a bare number is the ticket of that number or a word of the text. Words bring the
    index up to date first (`catch_up`, which writes when ingest left tickets due)."""
    refs, rest, prefix = _parse(words or "", tag)
    if not refs and not rest:
        return None
    if rest:
        try:
            catch_up()  # the index is read: the mail stored since the last catch-up is in it first
        except DATABASE_TROUBLE as exc:
            # Another writer held the database past the busy timeout: search what is
            # indexed (the newest mail may be missing) rather than fail; it all stays due.
            log.warning("search index not brought up to date (%s: %s); searching what is indexed",
                        type(exc).__name__, exc)
    clause = None
    for tid in dict.fromkeys(refs):
        one = Ticket.id == tid
        clause = one if clause is None else clause & one
    if rest:
        one = _matching(rest, prefix)
        # A bare number may be the ticket's own: the ticket numbered n then needs only the
        # other words (a ticket has one number, so one alternative per number covers it).
        numbers = dict.fromkeys(int(t[0]) for t in rest if _number(t) is not None)
        for n in numbers:
            others = [t for t in rest if _number(t) != n]
            alt = Ticket.id == n
            if others:
                alt = alt & _matching(others, prefix and others[-1] is rest[-1])
            one = one | alt
        clause = one if clause is None else clause & one
    return clause


def _number(word: list[str]) -> int | None:
    """The ticket number a word of digits alone may be."""
    return int(word[0]) if len(word) == 1 and word[0].isdigit() and len(word[0]) <= 18 else None
