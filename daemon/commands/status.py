"""`kpudesk status [--json]`: how the desk stands, for the administrator — when mail was last
read and will next be read, what waits in the outbox, the last report slot, the quarantine,
and how much disk the database and the mail archive take. Reads only; creates nothing."""
from __future__ import annotations

import argparse
import os
from datetime import datetime, timedelta
from pathlib import Path

import peewee as pw
from kpudesk.tickets import mirror, outbox
from kpudesk.tickets.labels import waktu
from kpudesk.tickets.models import Quarantine, db
from kpudesk.tickets.poll_log import last_poll
from kpudesk.tickets.labels import iso
from kpudesk.tickets.reports import ReportSlot

from .common import emit_json
from ..runner import Cadence
from ..settings_check import sqlite_path
from ..wiring import App
from .common import app_from_args

def register(sub) -> None:
    p = sub.add_parser("status", help="keadaan layanan: poll terakhir dan berikutnya, antrean surel, laporan, "
                                      "karantina, ukuran basis data dan arsip")
    p.add_argument("--json", action="store_true", help="keluaran JSON")
    p.set_defaults(func=cmd_status)


def _tree_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:  # removed meanwhile (a temp file of a write)
                pass
    return total


def database_bytes(app: App) -> int:
    path = sqlite_path(app.settings)
    if path is not None:
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())
    if isinstance(db.obj, pw.PostgresqlDatabase):
        return int(db.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0])
    return 0


def desk_status(app: App) -> dict:
    s, zone = app.settings, app.settings.zone
    last = last_poll()
    nxt = Cadence(timedelta(seconds=s.imap.poll_every), zone=zone)._next_aligned(last) if last else None
    counts, files = outbox.counts(), mirror.counts()
    slot = ReportSlot.select().order_by(ReportSlot.claimed_at.desc(), ReportSlot.id.desc()).first()
    return {
        "last_poll": iso(last, zone),
        "next_poll": iso(nxt, zone),
        "poll_every_seconds": s.imap.poll_every,
        "outbox_pending": counts.get("pending", 0),
        "outbox_failed": counts.get("failed", 0),
        "mirror": s.mirror.remote,  # the cloud folder ([storage] mirror), null when none
        "mirror_pending": files.get("pending", 0),
        "mirror_failed": files.get("failed", 0),
        "last_report_slot": None if slot is None else {
            "kind": slot.kind, "date": slot.slot_date, "time": slot.slot_time, "status": slot.status,
            "late": bool(slot.late), "claimed_at": iso(slot.claimed_at, zone)},
        "quarantined": Quarantine.select().where(Quarantine.resolved_at.is_null()).count(),
        "database": s.database_location(),
        "database_bytes": database_bytes(app),
        "archive": str(app.archive.root),
        "archive_bytes": _tree_bytes(app.archive.root),
    }


_KIND = {"progress": "laporan progres", "recap": "rekap harian", "followup": "surel tindak lanjut"}
_SLOT_STATUS = {"claimed": "sedang disiapkan", "sent": "masuk antrean kirim", "skipped": "dilewati"}


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}".replace(".", ",")
        n /= 1024
    return ""  # pragma: no cover


def cmd_status(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    st = desk_status(app)
    if args.json:
        emit_json(st)
        return 0
    zone = app.settings.zone
    last = last_poll()
    print(f"Poll terakhir     : {waktu(last, zone) if last else 'belum pernah'}")
    if last:
        nxt = datetime.fromisoformat(st["next_poll"])
        print(f"Poll berikutnya   : {waktu(nxt, zone)} (tiap {st['poll_every_seconds'] // 60} menit, bila daemon berjalan)")
    else:
        print("Poll berikutnya   : saat daemon mulai (`kpudesk run`) atau `kpudesk poll`")
    print(f"Antrean surel     : {st['outbox_pending']} menunggu, {st['outbox_failed']} gagal")
    print(f"Folder awan       : {st['mirror_pending']} berkas menunggu, {st['mirror_failed']} gagal"
          + (f" ({st['mirror']})" if st["mirror"] else " (belum diatur: [storage] mirror)"))
    r = st["last_report_slot"]
    if r:
        print(f"Laporan terakhir  : {_KIND.get(r['kind'], r['kind'])} {r['date']} {r['time']}, "
              f"{_SLOT_STATUS.get(r['status'], r['status'])}{' (terlambat)' if r['late'] else ''}")
    else:
        print("Laporan terakhir  : belum ada")
    print(f"Karantina         : {st['quarantined']} pesan"
          + (" (lihat `kpudesk quarantine list`)" if st["quarantined"] else ""))
    print(f"Basis data        : {_size(st['database_bytes'])} ({st['database']})")
    print(f"Arsip surel       : {_size(st['archive_bytes'])} ({st['archive']})")
    return 0
