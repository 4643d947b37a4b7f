"""The tickets' full-text index, in the database's own engine: SQLite FTS5 or PostgreSQL
`tsvector` + GIN. This module owns the index's tables, the document each ticket is indexed
by, and the search clause the queue (`desk_queries`) and `tickets list --search` share.

One document per ticket: its subject, requester address and name, the identity card's name
and address, and the words people wrote to each other on it: the party's mail (`in`, kind
normal; a walk-in's question too) and the officers' answers (`out`, kind answer, mailed or
given in person). Not internal notes, nor the escalation correspondence (`internal`): they
are the officers' and the commission's own remarks, not what the party asked or was told; a
note naming another party or case ("mirip pertanyaan PKB kemarin") would make the ticket a
false match for that search. Nor the mail a template wrote (acknowledgements, follow-ups,
notices) or a machine (auto-replies, bounces): the same words on every ticket would make
every ticket match them ("telepon", "tiket").

Words are lower case, without accents, runs of letters and digits. For PostgreSQL the text
is folded so here, in Python, and stored as those words: it needs no `unaccent` extension
and no language configuration ('simple': Indonesian has none built in; its stemming would
guess). SQLite's FTS5 is given the text itself: its `unicode61` tokenizer with
`remove_diacritics 2` does the same folding in C (the Python one cost a third of ingest).
A user's words are reduced by the Python folding on both, so nothing a user types reaches
the engine's query language except words of letters and digits (`"`, `*`, `NEAR(`, `OR`,
`-` are no syntax); tests/e2e/test_search_postgres.py checks that both engines find the same
tickets.

Kept in step by the writers, in their own transaction: whatever adds an indexed message to
a ticket or changes its names calls `touched(ticket_id)`. Inside `deferred()` (an ingest
batch, a spam release) that only notes the ticket, and each noted ticket is indexed once, at
the end of the block, still inside its transaction; elsewhere it is indexed at once. A
document is a function of the rows alone, so indexing a ticket again is always right.
Raw SQL lives only here (the index is no peewee model).
"""
from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import peewee as pw

from .models import Identity, Message, Ticket, db

#: The (direction, kind) of the messages whose text is indexed (see the module docstring).
INDEXED = (("in", "normal"), ("out", "answer"))
#: A ticket's document is cut after this many characters of source text: a tsvector holds
#: at most 1 MB, and a mail of megabytes of text is a paste, not a question.
MAX_DOC_CHARS = 200_000
_CHUNK = 500  # tickets per statement (SQLite allows 32,766 bound values)

_WORD = re.compile(r"[^\W_]+")
# `#12`, `HD-MSJ#12`, `[HD-MSJ` `#12]`: a written ticket reference (the tag, when attached,
# is checked against the helpdesk's own by the caller).
_REF = re.compile(r"\[?(?:(?P<tag>[^\W\d_][^#\[\]\s]*?))?#(?P<id>\d{1,18})\]?")


def _postgres(database: pw.Database) -> bool:
    return isinstance(database, pw.PostgresqlDatabase)


def create_index(database: pw.Database) -> None:
    """Create the index's tables if missing (a new database, or migration v5)."""
    if _postgres(database):
        database.execute_sql(
            'CREATE TABLE IF NOT EXISTS ticket_search ('
            ' ticket_id INTEGER PRIMARY KEY REFERENCES "ticket" ("id") ON DELETE CASCADE,'
            ' doc tsvector NOT NULL)')
        database.execute_sql('CREATE INDEX IF NOT EXISTS ticket_search_doc ON ticket_search USING GIN (doc)')
        return
    # rowid = ticket id: a ticket's row is found (deleted, replaced) through the rowid, where
    # an UNINDEXED ticket_id column would be a scan of the whole index. No `prefix` indexes:
    # they made each document's insert 5x dearer (0.36 vs 0.07 ms for 8 KB, in the ingest
    # transaction), and a prefix search at 100,000 tickets was no faster with them (bench/web.py).
    database.execute_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS ticket_fts USING fts5("
        "doc, tokenize = 'unicode61 remove_diacritics 2')")
    # A virtual table takes no foreign key: a deleted ticket takes its document along here.
    database.execute_sql(
        'CREATE TRIGGER IF NOT EXISTS ticket_fts_gone AFTER DELETE ON "ticket" '
        "BEGIN DELETE FROM ticket_fts WHERE rowid = old.id; END")


def has_index(database: pw.Database) -> bool:
    tables = set(database.get_tables())
    return ("ticket_search" if _postgres(database) else "ticket_fts") in tables


def fold(text: str) -> str:
    """Lower case without accents: `Dokumén` -> `dokumen`."""
    text = text.lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def terms(text: str) -> list[str]:
    """The words a text is indexed and searched by: folded runs of letters and digits."""
    return _WORD.findall(fold(text))


# --- the index's contents --------------------------------------------------------------


def is_indexed(direction: str, kind: str) -> bool:
    """Whether a message of this direction and kind is part of its ticket's document."""
    return (direction, kind) in INDEXED


def _indexed_messages():
    clause = None
    for direction, kind in INDEXED:
        one = (Message.direction == direction) & (Message.kind == kind)
        clause = one if clause is None else clause | one
    return clause


def _documents(ids: list[int]) -> dict[int, str]:
    """Ticket id -> its document (folded words joined by spaces), for the tickets that exist."""
    parts: dict[int, list[str]] = {}
    rows = (Ticket.select(Ticket.id, Ticket.subject, Ticket.requester, Ticket.requester_name)
            .where(Ticket.id.in_(ids)).order_by(Ticket.id))
    if _postgres(db.obj):
        # Two writers (a poller, the web desk) indexing one ticket at once would each read
        # the other's message as not yet there, and the last to write would drop it: the
        # ticket rows are locked first (in id order), so the second waits and reads both.
        # SQLite has one writer at a time (transactions take the write lock at BEGIN).
        rows = rows.for_update()
    for tid, subject, requester, name in rows.tuples():
        parts[tid] = [subject or "", requester or "", name or ""]
    if not parts:
        return {}
    for tid, name, email in (Identity.select(Identity.ticket, Identity.name, Identity.email)
                             .where(Identity.ticket.in_(list(parts))).tuples()):
        parts[tid] += [name or "", email or ""]
    for tid, text in (Message.select(Message.ticket, Message.text)
                      .where(Message.ticket.in_(list(parts)) & _indexed_messages())
                      .order_by(Message.id).tuples()):
        parts[tid].append(text or "")
    docs = {}
    # SQLite's FTS5 (unicode61, remove_diacritics 2) splits and folds the text itself, in C;
    # folding it in Python first cost ~0.6 ms a message, a third of ingest (bench/ingest.py).
    # PostgreSQL's 'simple' configuration keeps accents: it is given the folded words.
    fold_here = _postgres(db.obj)
    for tid, texts in parts.items():
        source = "\n".join(t for t in texts if t)[:MAX_DOC_CHARS]
        docs[tid] = " ".join(terms(source)) if fold_here else source
    return docs


_local = threading.local()  # the tickets noted by the `deferred()` block open in this thread


def touched(ticket_id: int) -> None:
    """`ticket_id` gained an indexed message or changed a name: index it (now, or at the end
    of the open `deferred()` block)."""
    pending = getattr(_local, "pending", None)
    if pending is not None:
        pending.add(ticket_id)
    else:
        reindex_tickets([ticket_id])


@contextmanager
def deferred() -> Iterator[None]:
    """Note the touched tickets and index each once when the block ends without an error
    (call it inside the transaction: the index is written in it). A block opened inside
    another joins it; a block that fails forgets what it noted (its transaction rolls back)."""
    if getattr(_local, "pending", None) is not None:
        yield
        return
    _local.pending = set()
    try:
        yield
        pending = _local.pending
    finally:
        _local.pending = None
    reindex_tickets(pending)


def reindex_ticket(ticket_id: int) -> None:
    """Rebuild one ticket's document (or drop it, when the ticket is gone)."""
    reindex_tickets([ticket_id])


def reindex_tickets(ticket_ids: Iterable[int]) -> None:
    """Rebuild the documents of these tickets, in the caller's transaction."""
    ids = sorted({int(t) for t in ticket_ids if t is not None})
    database = db.obj
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        docs = _documents(chunk)
        _write(database, chunk, docs)


def _write(database: pw.Database, chunk: list[int], docs: dict[int, str]) -> None:
    p = database.param
    marks = ", ".join([p] * len(chunk))
    rows = sorted(docs.items())
    if _postgres(database):
        database.execute_sql(f"DELETE FROM ticket_search WHERE ticket_id IN ({marks})", chunk)
        if rows:
            values = ", ".join([f"({p}, to_tsvector('simple', {p}))"] * len(rows))
            database.execute_sql(f"INSERT INTO ticket_search (ticket_id, doc) VALUES {values}",
                                 [v for row in rows for v in row])
        return
    database.execute_sql(f"DELETE FROM ticket_fts WHERE rowid IN ({marks})", chunk)
    if rows:
        values = ", ".join([f"({p}, {p})"] * len(rows))
        database.execute_sql(f"INSERT INTO ticket_fts (rowid, doc) VALUES {values}", [v for row in rows for v in row])


def fill(database: pw.Database, batch: int = 2000) -> int:
    """Index every ticket, `batch` tickets at a time (migration v5); returns how many."""
    done, last = 0, 0
    while True:
        ids = [tid for (tid,) in Ticket.select(Ticket.id).where(Ticket.id > last)
               .order_by(Ticket.id).limit(batch).tuples()]
        if not ids:
            return done
        reindex_tickets(ids)
        done += len(ids)
        last = ids[-1]


# --- searching -------------------------------------------------------------------------


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
    if _postgres(database):
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
    ticket; a bare number is the ticket of that number or a word of the text."""
    refs, rest, prefix = _parse(words or "", tag)
    if not refs and not rest:
        return None
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
