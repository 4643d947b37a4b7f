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
"""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from .models import MirrorItem, Ticket

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
