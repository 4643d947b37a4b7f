"""`kpudesk tickets answer` and `kpudesk tickets void`: officer actions beyond mail.

`answer` records an answer given in person, in a chat group or an online meeting (nothing is
mailed); `void` takes a mistaken ticket out of every report and count, keeping its audit
trail. The domain side is tickets/officer.py; times typed by officers are read by
tickets/walkin.py `parse_when`.
"""
from __future__ import annotations

import argparse

from kpudesk.tickets.status import ref
from kpudesk.tickets import queries
from kpudesk.tickets.labels import waktu
from kpudesk.tickets.walkin import CHANNEL_LABELS, parse_when

from .common import app_from_args, ticket_id

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
