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


def voided_ids() -> set[int]:
    """Ids of every voided ticket. The flags column is JSON text: a LIKE narrows the rows
    portably (SQLite and PostgreSQL), the decoded flags decide."""
    # Value(converter=False): the pattern is SQL text, not a JSON value to encode;
    # ILIKE because peewee writes LIKE as GLOB on SQLite (ILIKE is LIKE there)
    pattern = pw.Value('%"void"%', converter=False)
    rows = Ticket.select(Ticket.id, Ticket.flags).where(pw.Expression(Ticket.flags, pw.OP.ILIKE, pattern))
    return {t.id for t in rows if is_void(t)}


def exclude_void(tickets: Iterable[Ticket]) -> list[Ticket]:
    """`tickets` without the voided ones, decided on their loaded flags (select
    `Ticket.flags` with them: no extra query)."""
    return [t for t in tickets if not is_void(t)]
