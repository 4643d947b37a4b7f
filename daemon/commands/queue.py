"""`kpudesk quarantine ...` and `kpudesk spam ...`: mail that needs an officer's look."""
from __future__ import annotations

import argparse

from kpudesk.tickets import desk_ops
from kpudesk.tickets.errors import NotFound
from kpudesk.tickets.ingest import PollStats
from kpudesk.tickets.models import Message, Quarantine
from kpudesk.tickets.labels import iso
from kpudesk.tickets.quarantine import adopt_whole, too_large

from .common import emit_json
from ..lock import FileLock
from .common import app_from_args, clip, table


def register(sub) -> None:
    q = sub.add_parser("quarantine", help="pesan yang gagal diproses")
    qsub = q.add_subparsers(dest="q_command", required=True, metavar="AKSI")
    p = qsub.add_parser("list", help="daftar pesan karantina")
    p.add_argument("--all", action="store_true", help="termasuk yang sudah berhasil diproses ulang")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_q_list)
    p = qsub.add_parser("retry", help="proses ulang pesan karantina (semua, atau satu ID)")
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_q_retry)

    s = sub.add_parser("spam", help="pesan spam yang ditahan")
    ssub = s.add_subparsers(dest="s_command", required=True, metavar="AKSI")
    p = ssub.add_parser("list", help="daftar spam yang ditahan")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_spam_list)
    p = ssub.add_parser("release", help="jadikan pesan spam sebagai tiket")
    p.add_argument("id", type=int)
    p.add_argument("--as", dest="officer", help="petugas (nama atau surel)")
    p.set_defaults(func=cmd_spam_release)
    p = ssub.add_parser("dismiss", help="pastikan pesan sebagai spam (tidak menjadi tiket; tetap tersimpan)")
    p.add_argument("id", type=int)
    p.add_argument("--reason", default="", help="alasan (dicatat di riwayat)")
    p.add_argument("--as", dest="officer", help="petugas (nama atau surel)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_spam_dismiss)


def cmd_q_list(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    q = Quarantine.select().order_by(Quarantine.id)
    if not args.all:
        q = q.where(Quarantine.resolved_at.is_null())
    rows = [{"id": r.id, "folder": r.folder, "uid": r.uid, "message_id": r.message_id, "error": r.error,
             "attempts": r.attempts, "raw_sha256": r.raw_sha256,
             "raw_path": str(app.archive.path(r.raw_path)), "created_at": iso(r.created_at, app.settings.zone),
             "resolved": r.resolved_at is not None} for r in q]
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("Tidak ada pesan di karantina.")
        return 0
    print(table(["ID", "Folder", "UID", "Percobaan", "Galat", "Berkas mentah"],
                [[str(r["id"]), r["folder"] or "-", str(r["uid"]), str(r["attempts"]), clip(r["error"], 60), r["raw_path"]]
                 for r in rows]))
    return 0


def cmd_q_retry(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    q = Quarantine.select().where(Quarantine.resolved_at.is_null()).order_by(Quarantine.id)
    if args.id is not None:
        q = q.where(Quarantine.id == args.id)
        if not q.exists():
            raise NotFound(f"pesan karantina #{args.id} tidak ada (atau sudah diproses)")
    ok = failed = 0
    stats = PollStats()
    notes: list[str] = []
    with FileLock(app.state_dir / "poll.lock", "poll"):
        for row in list(q):
            big = too_large(row)
            if big is not None and not fetch_whole(app, row, big, notes):
                failed += 1
                continue
            if app.ingestor.retry_quarantined(row, stats):
                ok += 1
            else:
                failed += 1
    if args.json:
        emit_json({"retried": ok + failed, "succeeded": ok, "failed": failed, "notes": notes})
    else:
        for note in notes:
            print(note)
        print(f"Diproses ulang: {ok} berhasil, {failed} masih gagal.")
    return 0 if failed == 0 else 1


def fetch_whole(app, row: Quarantine, big: tuple[float, int], notes: list[str]) -> bool:
    """A message quarantined for its size: fetch it whole when the limit now allows it."""
    size_mb, _old = big
    limit = app.settings.imap.max_message_mb
    if size_mb > limit:
        notes.append(f"Pesan karantina #{row.id} terlalu besar ({size_mb:.1f} MB, batas {limit} MB) dan belum "
                     "diunduh utuh. Untuk memprosesnya, naikkan [imap] max_message_mb di settings.toml "
                     f"(misalnya max_message_mb = {int(size_mb) + 1}), lalu jalankan lagi "
                     f"`kpudesk quarantine retry {row.id}`.")
        return False
    with app.imap() as source:
        status = source.examine(row.folder or app.settings.imap.inbox)
        found = source.fetch(status.name, status.uidvalidity, [row.uid]) if status.uidvalidity == row.uidvalidity else []
    if not found:
        notes.append(f"Pesan karantina #{row.id} tidak ada lagi di folder {row.folder} (UID {row.uid}); "
                     "tidak dapat diunduh utuh.")
        return False
    adopt_whole(app.archive, row, found[0].raw)
    return True


def cmd_spam_list(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    rows = [{"id": m.id, "folder": m.folder, "uid": m.uid, "from": m.from_addr, "subject": m.subject,
             "date": iso(m.date or m.created_at, app.settings.zone), "message_id": m.message_id,
             "kind": m.kind}
            for m in Message.select().where(Message.disposition == "spam_held").order_by(Message.id)]
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("Tidak ada spam yang ditahan.")
        return 0
    print(table(["ID", "Tanggal", "Pengirim", "Subjek"],
                [[str(r["id"]), (r["date"] or "")[:16].replace("T", " "), clip(r["from"], 32), clip(r["subject"], 60)]
                 for r in rows]))
    print(f"\n{len(rows)} pesan ditahan. Jadikan tiket dengan `kpudesk spam release ID`.")
    return 0


def cmd_spam_release(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    row = Message.get_or_none((Message.id == args.id) & (Message.disposition == "spam_held"))
    if row is None:
        raise NotFound(f"pesan spam #{args.id} tidak ada di daftar tahanan")
    actor = app.settings.officer(args.officer).name if app.settings.officers else (args.officer or "petugas")
    ticket = app.ingestor.release(row, actor=actor, reason="dilepas petugas")
    print(f"Pesan #{row.id} dijadikan tiket {app.settings.helpdesk.tag} #{ticket.id}.")
    return 0


def cmd_spam_dismiss(args: argparse.Namespace) -> int:
    """The web desk's "dismiss" on /spam: the same domain operation, the same event."""
    app = app_from_args(args)
    row = desk_ops.dismiss_spam(args.id, officer=app.settings.officer(args.officer), clock=app.clock,
                                reason=args.reason)
    if args.json:
        emit_json({"id": row.id, "disposition": row.disposition})
        return 0
    print(f"Pesan #{row.id} dipastikan spam; tetap tersimpan, tidak menjadi tiket.")
    return 0
