"""The service's own bookkeeping rows, written here so that `daemon/` writes no row itself:
where a folder's reading resumes (and the event when the server renumbered it), and since
when the daemon runs against this database.

The folder's high-water mark itself moves in the ingest transaction (`tickets.ingest`),
together with the messages it covers.
"""
from __future__ import annotations

import logging
from datetime import datetime

from .model_base import UtcDateTimeField, utc_text
from .models import Event, FolderState, Meta, db

log = logging.getLogger(__name__)

DAEMON_SINCE_KEY = "daemon_since"  # Meta row: when the daemon first ran (UTC text)


def resume_uid(folder: str, uidvalidity: int, now: datetime) -> int:
    """The highest UID of `folder` already stored, to read on from; 0 for a folder never
    read, and 0 when the server renumbered it (another UIDVALIDITY): then it is read all
    again (the message identity makes the re-read add nothing stored) and an event says
    why that poll reads so much."""
    state = FolderState.get_or_none(FolderState.name == folder)
    if state is None:
        return 0
    if state.uidvalidity == uidvalidity:
        return state.last_uid
    log.warning("UIDVALIDITY of %s changed %s -> %s: full re-read", folder, state.uidvalidity, uidvalidity)
    with db.atomic():
        Event.create(ticket=None, at=now, actor="system", kind="folder.uidvalidity_changed",
                     detail={"folder": folder, "old": state.uidvalidity, "new": uidvalidity})
    return 0


def daemon_since(now: datetime) -> datetime:
    """When the daemon first ran against this database: recorded by the first call, read
    back by every later one (a report slot from before it is not "missed")."""
    with db.atomic():
        row, _ = Meta.get_or_create(key=DAEMON_SINCE_KEY, defaults={"value": utc_text(now)})
    return UtcDateTimeField().python_value(row.value)
