"""Opening the database: the connection and its pragmas, creating and migrating the schema
(checked with plain reads, so a command against a current schema takes no write lock), and
recognising a database locked past its busy timeout."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee as pw
from playhouse.db_url import connect

from . import search
from .errors import ConfigError, SchemaError
from .voids import left_out_sql
from .models import MODELS, CannedAnswer, LoginFailure, Meta, MirrorItem, OfficerLogin, SearchPending, db

SCHEMA_VERSION = 8


def open_database(url: str, *, create: bool = True) -> pw.Database:
    """Connect, create or upgrade the schema, and bind the models. Returns the database.

    `create=False` (every command but init, poll, run and demo): a missing SQLite file is a
    ConfigError naming it, never a new empty database beside the real one (a settings file
    whose paths point elsewhere would otherwise start a second helpdesk silently)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            if not create and not Path(path).exists():
                raise ConfigError("database.url", f"basis data {path} belum ada; buat dengan `kpudesk init` "
                                                  "(atau periksa database.url dan storage.dir di settings.toml)")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        database = connect(
            url,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                # Officers run the CLI while the daemon writes: wait, don't fail.
                "busy_timeout": 10000,
                "synchronous": "full",
                # Ingest inserts into several indexes at random places (Message-IDs, message
                # identities); the default 2 MB page cache made those inserts read pages back
                # from the OS all the time on a mailbox of 10,000 messages. A ceiling, not an
                # allocation: a small database uses little.
                "cache_size": -32768,  # KiB: 32 MB
            },
            # Every transaction takes the write lock at BEGIN: a deferred one that read first
            # fails at once with SQLITE_BUSY when another process wrote meanwhile (WAL snapshot
            # rule), instead of waiting out busy_timeout like an immediate one does.
            lock_type="IMMEDIATE",
        )
    else:
        # A password inserted into the URL is URL-quoted (daemon/dburl.py); the driver needs it plain.
        database = connect(url, unquote_password=True, unquote_user=True)
    db.initialize(database)
    database.connect(reuse_if_open=True)
    _ensure_schema(database)
    return database


def _ensure_schema(database: pw.Database) -> None:
    """Check the schema; create or upgrade it only when that is due.

    Every CLI command opens the database, and officers run commands while the daemon
    ingests: a current schema is checked with plain reads (in WAL mode they never wait for
    a writer), and the write lock is taken only to create tables or migrate."""
    found = _current_version(database)
    if found == SCHEMA_VERSION:
        return
    if found is not None:
        _refuse_newer(found)
    with database.atomic():
        database.create_tables(MODELS, safe=True)
        row = Meta.get_or_none(Meta.key == "schema_version")
        if row is None:
            search.create_index(database)  # a new database: the index starts empty, as the tickets
            _queue_indexes(database)
            Meta.create(key="schema_version", value=str(SCHEMA_VERSION))
            return
        found = int(row.value)
    _refuse_newer(found)
    for version in range(found + 1, SCHEMA_VERSION + 1):
        with database.atomic():
            # Re-read under the write lock: another process may have migrated meanwhile.
            if int(Meta.get(Meta.key == "schema_version").value) >= version:
                continue
            MIGRATIONS[version](database)
            Meta.update(value=str(version)).where(Meta.key == "schema_version").execute()


def _refuse_newer(found: int) -> None:
    if found > SCHEMA_VERSION:
        raise SchemaError(
            f"database schema version {found} is newer than this kpudesk ({SCHEMA_VERSION}); upgrade kpudesk"
        )


def _current_version(database: pw.Database) -> int | None:
    """The stored schema version, read without a transaction; None when the database lacks
    a table this kpudesk needs (new, or older than a table added since) and the
    write path has to run."""
    tables = set(database.get_tables())
    if any(m._meta.table_name not in tables for m in MODELS):
        return None
    row = Meta.get_or_none(Meta.key == "schema_version")
    return int(row.value) if row is not None else None


def is_locked(exc: BaseException) -> bool:
    """Whether a database error means "another process holds the write lock" (SQLite's
    SQLITE_BUSY once busy_timeout ran out): worth trying again later, not a defect."""
    if not isinstance(exc, (pw.OperationalError, sqlite3.OperationalError)):
        return False
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text or "database is busy" in text


def _to_v2(database: pw.Database) -> None:
    """v2: free-form text columns unbounded (PostgreSQL enforces VARCHAR lengths, SQLite does
    not); the outbox's delivery lease and its record of a mail still to compose."""
    if isinstance(database, pw.PostgresqlDatabase):
        for table, column in (("contact", "name"), ("ticket", "requester_name"), ("identity", "name"),
                              ("message", "from_name"), ("message", "author"), ("attachment", "filename"),
                              ("attachment", "content_type"), ("event", "actor"), ("escalation", "external_ref")):
            database.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE text')
        database.execute_sql('ALTER TABLE "message" ALTER COLUMN "kind" TYPE varchar(32)')
    columns = {c.name for c in database.get_columns("outbox_item")}
    if "lease_until" not in columns:
        database.execute_sql('ALTER TABLE "outbox_item" ADD COLUMN "lease_until" VARCHAR(32)')
    if "mail" not in columns:
        database.execute_sql('ALTER TABLE "outbox_item" ADD COLUMN "mail" TEXT')


def _to_v3(database: pw.Database) -> None:
    """v3: each incoming message's sender-authentication verdict; the outbox lease's holder
    (host and pid), so a lease held by a dead sender is taken over at once."""
    if "authentication" not in {c.name for c in database.get_columns("message")}:
        database.execute_sql('ALTER TABLE "message" ADD COLUMN "authentication" TEXT')
    if "lease_holder" not in {c.name for c in database.get_columns("outbox_item")}:
        database.execute_sql('ALTER TABLE "outbox_item" ADD COLUMN "lease_holder" TEXT')


def _to_v4(database: pw.Database) -> None:
    """v4: the web desk's tables (issue 14): officers' logins, failed logins, canned answers."""
    database.create_tables([OfficerLogin, LoginFailure, CannedAnswer], safe=True)


def _queue_indexes(database: pw.Database) -> None:
    """The web queue's indexes (bench/web.py, 100,000 tickets): the SOP timings read the
    events of 50 tickets by ticket and kind (without it SQLite walked the kind index: every
    event, 70 ms a page); the voided and merged tickets the queue leaves out."""
    database.execute_sql('CREATE INDEX IF NOT EXISTS "event_ticket_kind" ON "event" ("ticket_id", "kind")')
    database.execute_sql(f'CREATE INDEX IF NOT EXISTS "ticket_left_out" ON "ticket" ("id") WHERE {left_out_sql(database)}')


def _to_v5(database: pw.Database) -> None:
    """v5: the full-text index of the queue's search (tickets/search.py), filled for the
    tickets already stored, a batch of tickets per statement, in the migration's one
    transaction (a crash leaves v4, and the next start does it again); the queue's indexes."""
    search.create_index(database)
    search.fill(database)
    _queue_indexes(database)


def _to_v6(database: pw.Database) -> None:
    """v6: the cloud folder's upload queue (issue 15, tickets/mirror.py)."""
    database.create_tables([MirrorItem], safe=True)


def _to_v7(database: pw.Database) -> None:
    """v7: the cloud folder's upload lease (as the outbox's, v2/v3): two uploaders — the
    daemon and a manual `kpudesk storage sync` — never copy one file at once."""
    columns = {c.name for c in database.get_columns("mirror_item")}
    if "lease_until" not in columns:
        database.execute_sql('ALTER TABLE "mirror_item" ADD COLUMN "lease_until" VARCHAR(32)')
    if "lease_holder" not in columns:
        database.execute_sql('ALTER TABLE "mirror_item" ADD COLUMN "lease_holder" TEXT')


def _to_v8(database: pw.Database) -> None:
    """v8: the tickets whose full-text document is due (ingest no longer indexes in its batch's
    transaction: tickets/search.py). Documents of the tickets already stored are current."""
    database.create_tables([SearchPending], safe=True)


MIGRATIONS = {2: _to_v2, 3: _to_v3, 4: _to_v4, 5: _to_v5, 6: _to_v6, 7: _to_v7, 8: _to_v8}


def close_database() -> None:
    if db.obj is not None and not db.obj.is_closed():
        db.obj.close()
