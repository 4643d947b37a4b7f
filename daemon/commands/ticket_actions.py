"""`kpudesk tickets answer`, `void`, `merge` and `identity`: officer actions beyond mail.

`answer` records an answer given in person, in a chat group or an online meeting (nothing is
mailed); `void` takes a mistaken ticket out of every report and count, keeping its audit
trail; `merge` folds a ticket into another of the same party (tickets/merge.py, the same
function as the web desk's merge, with the same errors); `identity` corrects the identity
card (tickets/desk_ops.py `edit_identity`, the desk's form). The domain side is
tickets/officer.py; times typed by officers are read by tickets/walkin.py `parse_when`.
"""
from __future__ import annotations

import argparse

from kpudesk.tickets.status import ref
from kpudesk.tickets import queries
from kpudesk.tickets.desk_ops import IDENTITY_FIELDS, edit_identity
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.merge import merge
from kpudesk.tickets.labels import waktu
from kpudesk.tickets.walkin import CHANNEL_LABELS, parse_when

from .common import app_from_args, emit_json, ticket_id

ID_HELP = "nomor tiket (2, #2, HD-MSJ #2 atau [HD-MSJ #2])"


def register(tsub) -> None:
    """Add the subcommands to `kpudesk tickets`."""
    p = tsub.add_parser("answer", help="catat jawaban yang disampaikan langsung/daring (tidak dikirim lewat surel)")
    p.add_argument("id", type=ticket_id, help=ID_HELP)
    p.add_argument("--message", required=True, help="isi jawaban yang disampaikan")
    p.add_argument("--as", dest="officer", help="petugas yang menjawab (nama atau surel)")
    p.add_argument("--at", metavar="WAKTU",
                   help="kapan jawaban disampaikan, mis. '2026-12-04 09:30' (zona helpdesk; bawaan: sekarang)")
    p.set_defaults(func=cmd_answer)

    p = tsub.add_parser("void", help="batalkan tiket keliru (hanya koordinator; riwayat tetap disimpan)")
    p.add_argument("id", type=ticket_id, help=ID_HELP)
    p.add_argument("--reason", required=True, help="alasan pembatalan (dicatat di riwayat)")
    p.add_argument("--as", dest="officer", help="koordinator yang membatalkan (nama atau surel)")
    p.set_defaults(func=cmd_void)

    p = tsub.add_parser("merge", help="gabungkan tiket ke tiket lain dari partai/pemohon yang sama")
    p.add_argument("id", type=ticket_id, help="tiket yang digabung (ditandai selesai): " + ID_HELP)
    p.add_argument("--into", required=True, type=ticket_id, help="tiket tujuan yang tetap: " + ID_HELP)
    p.add_argument("--as", dest="officer", help="petugas yang menggabungkan (nama atau surel)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_merge)

    p = tsub.add_parser("identity", help="betulkan kartu identitas pemohon (nama, partai, telepon, surel)")
    p.add_argument("id", type=ticket_id, help=ID_HELP)
    for field in IDENTITY_FIELDS:
        p.add_argument(f"--{field}", help=f"{field} baru ('' mengosongkan)")
    p.add_argument("--as", dest="officer", help="petugas yang membetulkan (nama atau surel)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_identity)


def cmd_answer(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    ticket = queries.get_ticket(args.id, app.settings.helpdesk.tag)
    officer = app.settings.officer(args.officer)
    now = app.clock.now()
    at = parse_when(args.at, app.settings.zone, now) if args.at else None
    row = app.officers.answer(ticket, officer=officer, body=args.message, at=at)
    how = CHANNEL_LABELS.get(ticket.channel, ticket.channel).lower()
    print(f"Jawaban {officer.name} untuk {ref(ticket.id, app.settings.helpdesk.tag)} dicatat "
          f"(disampaikan langsung, kanal {how}, {waktu(row.created_at, app.settings.zone)}; tidak dikirim lewat surel); "
          f"status tiket: dijawab.")
    return 0


def cmd_void(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    ticket = queries.get_ticket(args.id, app.settings.helpdesk.tag)
    app.officers.void(ticket, officer=app.settings.officer(args.officer), reason=args.reason)
    print(f"{ref(ticket.id, app.settings.helpdesk.tag)} dibatalkan: tidak dihitung lagi dalam laporan, "
          f"rekapitulasi dan antrean; riwayatnya tetap tersimpan.")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    tag = app.settings.helpdesk.tag
    old = queries.get_ticket(args.id, tag)
    into = queries.get_ticket(args.into, tag)
    survivor = merge(old.id, into.id, actor=app.settings.officer(args.officer), clock=app.clock, tag=tag)
    if args.json:
        emit_json({"id": old.id, "ref": ref(old.id, tag), "status": "selesai", "merged_into": survivor.id,
                   "into": queries.summary(survivor, tag=tag, zone=app.settings.zone)})
        return 0
    print(f"{ref(old.id, tag)} digabung ke {ref(survivor.id, tag)}: pesan, riwayat, eskalasi dan antrean kirimnya "
          f"kini di {ref(survivor.id, tag)}; {ref(old.id, tag)} ditandai selesai dan surel berikutnya untuknya "
          f"masuk ke {ref(survivor.id, tag)}.")
    return 0


def cmd_identity(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    tag = app.settings.helpdesk.tag
    ticket = queries.get_ticket(args.id, tag)
    values = {f: getattr(args, f) for f in IDENTITY_FIELDS if getattr(args, f) is not None}
    if not values:
        raise UserError("tidak ada yang diubah: beri --name, --party, --phone atau --email")
    changed = edit_identity(ticket, officer=app.settings.officer(args.officer), clock=app.clock,
                            registry=app.registry, **values)
    if args.json:
        emit_json({"id": ticket.id, "changed": changed,
                   "identity": queries.detail(ticket, tag=tag, zone=app.settings.zone)["identity"]})
        return 0
    what = ", ".join(changed) if changed else "tidak ada yang berubah"
    print(f"Identitas {ref(ticket.id, tag)} dibetulkan: {what}.")
    return 0
