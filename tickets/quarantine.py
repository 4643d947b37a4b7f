"""Mail too large to fetch whole: recorded in the quarantine by its header alone.

The poller sees a message's RFC822.SIZE before it downloads anything; one over
`[imap] max_message_mb` is never fetched whole (a 2 GB mail must not cost 2 GB of memory,
nor a full parse). Its header block is archived and a `Quarantine` row says why, so an
officer sees it in `kpudesk quarantine list` and the folder's mark moves past it.

Recording is idempotent by (folder, UIDVALIDITY, UID): the row is written before the
batch's transaction that moves the mark, so a crash in between only means the next poll
finds the row already there.
"""
from __future__ import annotations

import re

from kpudesk.mailbox.message import FetchedMail
from kpudesk.mailbox.parse import parse

from .archive import Archive
from .models import Quarantine, db

MB = 1024 * 1024
TOO_LARGE = "message too large"
_TOO_LARGE_RE = re.compile(r"^message too large: ([0-9.]+) MB > ([0-9]+) MB")


def too_large_error(size: int, limit_mb: int) -> str:
    return f"{TOO_LARGE}: {size / MB:.1f} MB > {limit_mb} MB (imap.max_message_mb); only its header was fetched"


def too_large(q: Quarantine) -> tuple[float, int] | None:
    """(size in MB, the limit then) when `q` was quarantined for its size, else None."""
    m = _TOO_LARGE_RE.match(q.error or "")
    return (float(m.group(1)), int(m.group(2))) if m else None


def record_oversized(archive: Archive, clock, header: FetchedMail, size: int, limit_mb: int) -> bool:
    """Quarantine a message by its header (`header.raw`); False when it was recorded already."""
    with db.atomic():
        if Quarantine.select().where((Quarantine.folder == header.folder)
                                     & (Quarantine.uidvalidity == header.uidvalidity)
                                     & (Quarantine.uid == header.uid)).exists():
            return False
        sha, path = archive.put(header.raw, kind="raw", suffix=".hdr")
        archive.sync()  # durable before the row that points at it
        message_id = None
        try:
            message_id = parse(header.raw + b"\r\n", header.internaldate).message_id
        except Exception:  # noqa: BLE001 - for the listing only
            pass
        Quarantine.create(folder=header.folder, uidvalidity=header.uidvalidity, uid=header.uid,
                          message_id=message_id, raw_sha256=sha, raw_path=path,
                          internaldate=header.internaldate, error=too_large_error(size, limit_mb),
                          created_at=clock.now())
    return True


def adopt_whole(archive: Archive, q: Quarantine, raw: bytes) -> None:
    """The whole message, fetched now that the limit allows it, replaces the header copy."""
    sha, path = archive.put(raw)
    archive.sync()
    q.raw_sha256, q.raw_path = sha, path
    q.save()
