"""The tickets' full-text index, in the database's own engine: SQLite FTS5 or PostgreSQL
`tsvector` + GIN. This module owns the index's tables, the document each ticket is indexed
by and the keeping of the index in step; what a search box's words become is
tickets/search_query.py.

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

Kept in step by the writers: whatever adds an indexed message to a ticket or changes its
names calls `touched(ticket_id)`. An officer's action (a reply, a walk-in, a card edited)
indexes the ticket at once, in its own transaction. Inside `deferred()` (an ingest batch, a
spam release) the ticket is only noted as due, in a `SearchPending` row written in the
block's transaction, and `catch_up()` indexes the due tickets later, each in the
transaction that removes its row: the daemon after each poll and send, and every search
before it reads the index, so a search never misses stored mail. Indexing 65 MB of
documents inside the ingest transaction was its largest single cost (bench/README.md,
issue 13). A document is a function of the rows alone, so indexing a ticket again is always
right, and a crash anywhere leaves the rows that say what is still due. Raw SQL lives only
here and in search_query.py (the index is no peewee model).
"""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import peewee as pw

from .models import Identity, Message, SearchPending, Ticket, db

#: The (direction, kind) of the messages whose text is indexed (see the module docstring).
INDEXED = (("in", "normal"), ("out", "answer"))
#: A ticket's document is cut after this many characters of source text: a tsvector holds
#: at most 1 MB, and a mail of megabytes of text is a paste, not a question.
MAX_DOC_CHARS = 200_000
_CHUNK = 500  # tickets per statement (SQLite allows 32,766 bound values)
# Tickets per catch-up transaction: its documents (each up to MAX_DOC_CHARS) are in memory
# together, so at most ~20 MB of text at once; and the write lock is held for one batch.
CATCH_UP_BATCH = 100

log = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+")


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


def _documents(ids: list[int], *, skip_locked: bool = False) -> dict[int, str]:
    """Ticket id -> its document (folded words joined by spaces), for the tickets that exist
    (and, with `skip_locked`, that no other transaction holds)."""
    parts: dict[int, list[str]] = {}
    rows = (Ticket.select(Ticket.id, Ticket.subject, Ticket.requester, Ticket.requester_name)
            .where(Ticket.id.in_(ids)).order_by(Ticket.id))
    if _postgres(db.obj):
        # Two writers (the web desk, a catch-up) indexing one ticket at once would each read
        # the other's message as not yet there, and the last to write would drop it: the
        # ticket rows are locked first (in id order), so the second waits and reads both.
        # A catch-up never waits: a ticket an ingest batch holds gets noted again by it.
        # SQLite has one writer at a time (transactions take the write lock at BEGIN).
        rows = rows.for_update(skip_locked=skip_locked or None)
    for tid, subject, requester, name in rows.tuples():
        parts[tid] = [subject or "", requester or "", name or ""]
    if not parts:
        return {}
    for tid, name, email in (Identity.select(Identity.ticket, Identity.name, Identity.email)
                             .where(Identity.ticket.in_(list(parts))).tuples()):
        parts[tid] += [name or "", email or ""]
    # Each text read up to the cap only: a catch-up reads a whole batch of tickets at once,
    # and a backlog of mails of megabytes of text must not all be in memory together.
    size = {tid: sum(map(len, texts)) for tid, texts in parts.items()}
    for tid, text in (Message.select(Message.ticket, pw.fn.SUBSTR(Message.text, 1, MAX_DOC_CHARS))
                      .where(Message.ticket.in_(list(parts)) & _indexed_messages())
                      .order_by(Message.id).tuples().iterator()):  # rows not kept once read
        if text and size[tid] < MAX_DOC_CHARS:
            parts[tid].append(text)
            size[tid] += len(text)
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
    """`ticket_id` gained an indexed message or changed a name: index it now, or, inside a
    `deferred()` block, note it as due when the block ends."""
    pending = getattr(_local, "pending", None)
    if pending is not None:
        pending.add(ticket_id)
    else:
        reindex_tickets([ticket_id])


@contextmanager
def deferred() -> Iterator[None]:
    """Note the touched tickets as due when the block ends without an error (call it inside
    the transaction: the notes are written in it, and `catch_up` indexes them). A block
    opened inside another joins it; a block that fails forgets what it noted (its
    transaction rolls back)."""
    if getattr(_local, "pending", None) is not None:
        yield
        return
    _local.pending = set()
    try:
        yield
        pending = _local.pending
    finally:
        _local.pending = None
    _note(pending)


def _note(ticket_ids: Iterable[int]) -> None:
    """SearchPending rows for these tickets, in the caller's transaction. A ticket already
    due has its `noted` raised: a catch-up that read the old value then leaves the row (it
    may have read the ticket's messages before this transaction's were committed). In id
    order, as a catch-up takes them, so two transactions never wait on each other's rows."""
    ids = sorted({int(t) for t in ticket_ids if t is not None})
    for start in range(0, len(ids), _CHUNK):
        (SearchPending.insert_many([(t,) for t in ids[start:start + _CHUNK]], fields=[SearchPending.ticket])
         .on_conflict(conflict_target=[SearchPending.ticket], update={SearchPending.noted: SearchPending.noted + 1})
         .as_rowcount().execute())


def catch_up(batch: int = CATCH_UP_BATCH, progress=lambda: None) -> int:
    """Index the due tickets, `batch` at a time, each batch in one transaction that also
    removes their SearchPending rows; returns how many were indexed. Cheap when nothing is
    due: one read, no write lock. `progress()` is called after each batch (the daemon's
    watchdog heartbeat). A ticket another transaction holds (PostgreSQL: an ingest batch
    still writing it) stays due for the next call. A batch that fails is indexed again ticket
    by ticket; a ticket whose document fails alone is logged and left out of the index (its
    mail is stored, and found by its number), never blocking the others. Database trouble
    (locked past the busy timeout, a lost connection) is raised, and everything stays due."""
    done = 0
    while True:
        rows = list(SearchPending.select(SearchPending.ticket, SearchPending.noted)
                    .order_by(SearchPending.ticket).limit(batch).tuples())
        if not rows:
            break
        try:
            taken, held = _index_due(rows)
        except DATABASE_TROUBLE:
            raise  # locked past the busy timeout, or the connection lost: all stays due
        except Exception as exc:  # noqa: BLE001 - isolated below, one ticket at a time
            log.warning("search index: a batch of %d ticket(s) failed (%s: %s); indexing them one by one",
                        len(rows), type(exc).__name__, exc)
            taken, held = _index_one_by_one(rows)
        done += taken
        progress()
        if held and not taken:
            break  # every ticket of the batch is being written: its writer notes it again
    return done


# Errors that say nothing about a document: the next catch-up may well succeed. (A
# document PostgreSQL refuses would be an OperationalError too, but MAX_DOC_CHARS keeps a
# tsvector far below its 1 MB limit: tests/e2e/test_search_postgres.py.)
DATABASE_TROUBLE = (pw.OperationalError, pw.InterfaceError)


def _index_due(rows: list[tuple[int, int]]) -> tuple[int, int]:
    """Index these (ticket, noted) rows in one transaction; (indexed, held by a writer)."""
    with db.atomic():
        ids = [tid for tid, _ in rows]
        docs = _documents(ids, skip_locked=True)
        held = _held(ids, docs)
        taken = [tid for tid in ids if tid not in held]
        if taken:
            _write(db.obj, taken, docs)
        _forget([(tid, noted) for tid, noted in rows if tid not in held])
    return len(taken), len(held)


def _index_one_by_one(rows: list[tuple[int, int]]) -> tuple[int, int]:
    taken = held = 0
    for row in rows:
        try:
            one, wait = _index_due([row])
        except DATABASE_TROUBLE:
            raise
        except Exception as exc:  # noqa: BLE001 - a document the engine refuses must not block the index
            log.error("search index: ticket %s left out of the index: %s: %s", row[0], type(exc).__name__, exc)
            with db.atomic():
                _forget([row])
            continue
        taken, held = taken + one, held + wait
    return taken, held


def _held(ids: list[int], docs: dict[int, str]) -> set[int]:
    """Of `ids`, the tickets that exist but were skipped as locked (PostgreSQL only); a
    ticket without a document is gone, and its document (if any) goes with it."""
    missing = [tid for tid in ids if tid not in docs]
    if not missing or not _postgres(db.obj):
        return set()
    return {tid for (tid,) in Ticket.select(Ticket.id).where(Ticket.id.in_(missing)).tuples()}


def _forget(rows: list[tuple[int, int]]) -> None:
    """Remove the SearchPending rows still carrying the `noted` value the catch-up read."""
    if not rows:
        return
    p = db.obj.param
    marks = ", ".join([f"({p}, {p})"] * len(rows))
    db.obj.execute_sql(f'DELETE FROM "search_pending" WHERE ("ticket_id", "noted") IN (VALUES {marks})',
                       [v for row in rows for v in row])


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
