"""Voided tickets: mistakes (a test entry, a duplicate typed twice) kept out of every count.

A voided ticket keeps its row, its messages and its whole event trail (the audit trail is
the Laporan Hasil Konsultasi; nothing is deleted). It is marked in `Ticket.flags["void"]`
= {"by", "at", "reason"} — a flag, not a status, so the status history stays true and no
schema change is needed — and the reports, the recap, the overdue and recontact lists
leave it out through `voided_ids` / `exclude_void`.

Only a coordinator may void (`VOID_ROLES`): a voided ticket disappears from the figures
the commission reads, so it is a supervisor's decision, recorded with the reason.
"""
from __future__ import annotations

from collections.abc import Iterable

import peewee as pw

from .models import Ticket

VOID_ROLES = ("koordinator-harian", "koordinator")


def is_void(ticket: Ticket) -> bool:
    return bool((ticket.flags or {}).get("void"))


def is_merged(ticket: Ticket) -> bool:
    """A ticket merged into another (tickets/merge.py): its messages and events count on the
    survivor, so the stub counts nowhere, like a voided ticket."""
    return (ticket.flags or {}).get("merged_into") is not None


def left_out(ticket: Ticket) -> bool:
    return is_void(ticket) or is_merged(ticket)


def left_out_sql(database: pw.Database) -> str:
    """The condition of the partial index of the tickets the queue leaves out (voided, or
    merged into another: tickets/voids.py). A query written with this very text
    (`desk_queries`) reads those few tickets from the index instead of every row's flags:
    SQLite and PostgreSQL use a partial index only for a literal pattern, not a bound one.
    psycopg2 formats every statement, so its `%` is written `%%`."""
    p = "%%" if isinstance(database, pw.PostgresqlDatabase) else "%"
    return f"""("flags" LIKE '{p}"void"{p}' OR "flags" LIKE '{p}"merged_into"{p}')"""


def voided_ids() -> set[int]:
    """Ids of every ticket left out of the counts: voided, or merged into another. Read
    through the partial index of schema v5 (`left_out_sql`, the index's own text), so only
    those few rows are read, not every ticket's flags; the decoded flags decide."""
    database = Ticket._meta.database.obj
    return {t.id for t in Ticket.select(Ticket.id, Ticket.flags).where(pw.SQL(left_out_sql(database)))
            if left_out(t)}


def exclude_void(tickets: Iterable[Ticket]) -> list[Ticket]:
    """`tickets` without the voided and merged ones, decided on their loaded flags (select
    `Ticket.flags` with them: no extra query)."""
    return [t for t in tickets if not left_out(t)]
