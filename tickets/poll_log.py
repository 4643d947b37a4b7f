"""When the mailbox was last read: one Meta row written at the end of every poll (an idle
poll changes no folder row), read by `kpudesk status` and the web desk's /healthz."""
from __future__ import annotations

from datetime import datetime

import peewee as pw

from .model_base import UtcDateTimeField, utc_text
from .models import FolderState, Meta, db

LAST_POLL_KEY = "poll.last"  # Meta row: when a poll last finished (UTC text)


def record_poll(now: datetime) -> None:
    with db.atomic():
        Meta.insert(key=LAST_POLL_KEY, value=utc_text(now)).on_conflict(
            conflict_target=[Meta.key], update={Meta.value: utc_text(now)}).execute()


def last_poll() -> datetime | None:
    row = Meta.get_or_none(Meta.key == LAST_POLL_KEY)
    if row is not None:
        return UtcDateTimeField().python_value(row.value)
    # Before any poll recorded its end: the last one that stored mail.
    latest = FolderState.select(pw.fn.MAX(FolderState.updated_at)).scalar()
    # peewee converts an aggregate of a typed column itself on some backends, not on others
    if latest is None or isinstance(latest, datetime):
        return latest
    return UtcDateTimeField().python_value(latest)
