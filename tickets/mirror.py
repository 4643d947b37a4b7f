"""The office's cloud folder (`[storage] mirror = "remote:path"`): which archived files go
there, and where. Every signature, documentation file, report PDF and progress evidence is
queued here in the same transaction that records the file itself, so nothing archived is
ever missed; the upload (daemon side, rclone) marks a row `stored` only when the remote holds
the same size and hash. Rows are queued whether or not a mirror is configured: an office
that adds its cloud folder later gets its whole archive there.

Remote layout (issue 15): `<year>/<month>/<ticket ref>/<file>` in the helpdesk's zone, e.g.
`2026/12/HD-MSJ-12/tanda-tangan.png`; files of no ticket go under a kind instead
(`2026/12/laporan/…`, `2026/12/progres/…`). The `#` and spaces of a ticket reference are
not safe in every remote's names, so `HD-MSJ #12` is written `HD-MSJ-12`.

The row's states, as the outbox's (tickets/outbox.py): `pending` → `stored` | `failed`.
An uploader claims a row with a lease (`lease_until`, `lease_holder` "host:pid:start",
schema v7) right before copying it, so two uploaders never copy one file at once; a
holder on this host that is gone (SIGKILLed mid-upload) loses its rows at once. A remote
that cannot be reached changes no row (the pass stops, the caller backs off: nothing is
lost, no attempt counted); a remote that refuses one file counts an attempt and backs off
with tickets/backoff.py's schedule, and the row fails once that schedule is exhausted
(`GIVE_UP_AFTER` refusals) or at once for a permanent refusal. A failed row keeps its
reason (Bahasa first, the remote's own words after) for the ticket page and `storage sync`.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import peewee as pw

from .backoff import RETRY_MINUTES, retry_delay
from .models import MirrorItem, Ticket, db
from . import lease as lease_rows
from .lease import LEASE, holder, takeable

log = logging.getLogger(__name__)

GIVE_UP_AFTER = len(RETRY_MINUTES)  # refusals in a row: the whole backoff schedule, ~2 hours apart at most

STATUS_LABELS = {"pending": "menunggu diunggah", "stored": "tersimpan di folder awan", "failed": "gagal diunggah"}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_part(text: str) -> str:
    """A path segment every remote accepts: letters, digits, `.`, `_`, `-`."""
    part = _UNSAFE.sub("-", text).strip("-.")
    return part[:120] or "berkas"


def remote_path(*, name: str, folder: str, at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local:%Y}/{local:%m}/{safe_part(folder)}/{safe_part(name)}"


def enqueue(*, path: str, sha256: str, size: int, name: str, now: datetime, zone: ZoneInfo,
            ticket: Ticket | None = None, ticket_ref: str | None = None, kind: str | None = None) -> MirrorItem:
    """Queue one archived file for the cloud folder; call inside the transaction that records
    the file. `ticket_ref` (e.g. "HD-MSJ #12") names the folder of a ticket's file, `kind`
    (e.g. "laporan") that of a file of no ticket. A second file of the same name in the same
    folder gets the start of its hash added, so no upload ever overwrites another."""
    folder = ticket_ref or kind
    if not folder:
        raise ValueError("enqueue needs ticket_ref or kind")
    target = remote_path(name=name, folder=folder, at=now, zone=zone)
    same = MirrorItem.get_or_none(MirrorItem.remote_path == target)
    if same is not None:
        if same.sha256 == sha256:
            return same  # the very file, queued already
        stem, dot, ext = target.rpartition(".")
        target = f"{stem}-{sha256[:8]}.{ext}" if dot and "/" not in ext else f"{target}-{sha256[:8]}"
    return MirrorItem.create(path=path, remote_path=target, sha256=sha256, size=size, ticket=ticket,
                             created_at=now, next_attempt_at=now)


@dataclass
class SyncStats:
    """One pass: `uploaded` copied now and verified; `found` already on the remote with the
    same size and hash (an earlier pass crashed before recording it: not copied again);
    `pending` and `failed` are the queue's totals after the pass (a failed row stays
    visible until someone acts on it)."""

    uploaded: int = 0
    found: int = 0
    deferred: int = 0
    pending: int = 0
    failed: int = 0

    def as_dict(self) -> dict:
        return {"uploaded": self.uploaded, "pending": self.pending, "failed": self.failed,
                "found": self.found, "deferred": self.deferred}


def due(now: datetime, *, ignore_backoff: bool = False, limit: int = 200, after: int = 0) -> list[MirrorItem]:
    """Pending rows an uploader may claim now, oldest first; `after`: the last id a pass
    handled (a pass walks the queue once, in batches, and never meets a row twice)."""
    q = MirrorItem.select().where((MirrorItem.status == "pending") & (MirrorItem.id > after))
    if not ignore_backoff:
        q = q.where(MirrorItem.next_attempt_at.is_null() | (MirrorItem.next_attempt_at <= now))
    found = []
    for item in q.order_by(MirrorItem.id):
        if takeable(item.lease_until, item.lease_holder, now):
            found.append(item)
            if len(found) == limit:
                break
    return found


def claim(item_id: int, now: datetime, lease: timedelta = LEASE) -> bool:
    """Reserve a row for copying (its own committed statement); the lease seen is compared
    and swapped in one UPDATE, so of two uploaders only one wins. `lease`: how long an
    uploader on another host keeps off (the copy's time limit, for a large file)."""
    return lease_rows.claim(MirrorItem, item_id, now, now + max(lease, LEASE))


def release(item_id: int) -> None:
    """Give a claimed row back untouched: the remote could not be reached, so this was no
    attempt at the file (no attempt counted, no backoff of its own: the pass backs off)."""
    MirrorItem.update(lease_until=None, lease_holder=None).where(
        (MirrorItem.id == item_id) & (MirrorItem.lease_holder == holder())).execute()


def mark_stored(item_id: int, now: datetime) -> None:
    """The remote holds the same size and hash: call only after checking it there."""
    with db.atomic():
        MirrorItem.update(status="stored", stored_at=now, lease_until=None, lease_holder=None, last_error=None,
                          attempts=MirrorItem.attempts + 1).where(MirrorItem.id == item_id).execute()


def mark_temporary(item_id: int, now: datetime, error: str) -> bool:
    """A refusal that may pass (a full quota freed, a server error): back off; True when the
    backoff schedule is now exhausted and the row has failed."""
    with db.atomic():
        item = MirrorItem.get_by_id(item_id)
        attempts = item.attempts + 1
        if attempts >= GIVE_UP_AFTER:
            _fail(item, now, f"menyerah setelah {attempts} percobaan: {error}", attempts)
            return True
        MirrorItem.update(attempts=attempts, last_error=error[:1000], next_attempt_at=now + retry_delay(attempts),
                          lease_until=None, lease_holder=None).where(MirrorItem.id == item_id).execute()
        return False


def mark_permanent(item_id: int, now: datetime, error: str) -> None:
    """A refusal no retry fixes (the archive's file gone or changed, the remote refusing for
    good): failed, with the reason."""
    with db.atomic():
        item = MirrorItem.get_by_id(item_id)
        _fail(item, now, error, item.attempts + 1)


def _fail(item: MirrorItem, now: datetime, error: str, attempts: int) -> None:
    MirrorItem.update(status="failed", attempts=attempts, last_error=error[:1000], next_attempt_at=None,
                      lease_until=None, lease_holder=None).where(MirrorItem.id == item.id).execute()
    log.error("mirror item=%s %s ticket=%s failed at %s: %s", item.id, item.remote_path, item.ticket_id,
              now.isoformat(), error)


def retry_failed(now: datetime) -> int:
    """Put every failed row back in the queue (after the administrator fixed the remote)."""
    return MirrorItem.update(status="pending", attempts=0, next_attempt_at=now).where(
        MirrorItem.status == "failed").execute()


def counts() -> dict[str, int]:
    rows = MirrorItem.select(MirrorItem.status, pw.fn.COUNT(MirrorItem.id).alias("n")).group_by(MirrorItem.status)
    return {r.status: r.n for r in rows}


def of_ticket(ticket_id: int) -> list[dict]:
    """A ticket's files in the cloud folder, for its page: name, state label, reason."""
    rows = MirrorItem.select().where(MirrorItem.ticket == ticket_id).order_by(MirrorItem.id)
    return [{"name": r.remote_path.rsplit("/", 1)[-1], "remote_path": r.remote_path, "status": r.status,
             "label": STATUS_LABELS.get(r.status, r.status), "error": r.last_error if r.status != "stored" else None,
             "attempts": r.attempts, "stored_at": r.stored_at} for r in rows]
