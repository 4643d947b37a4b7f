"""`kpudesk tickets ...`: the officers' queue."""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from kpudesk.mailbox.render import tgl
from kpudesk.tickets import queries, walkin
from kpudesk.tickets.errors import ConfigError, UserError
from kpudesk.tickets.labels import waktu_iso
from kpudesk.tickets.laporan import consultation_report
from kpudesk.tickets.status import Status, ref
from kpudesk.tickets.timing import overdue_ticket_ids, ticket_timings
from kpudesk.tickets.walkin import CHANNELS

from .. import laporan_render
from .common import emit_json
from . import faqdesk, ticket_actions, ticket_files
from .common import app_from_args, clip, table, ticket_id
from .ticket_view import render_ticket

ID_HELP = "nomor tiket (2, #2, HD-MSJ #2 atau [HD-MSJ #2])"


def register(sub) -> None:
    t = sub.add_parser("tickets", help="antrian tiket")
    tsub = t.add_subparsers(dest="tickets_command", required=True, metavar="AKSI")

    p = tsub.add_parser("list", help="daftar tiket")
    p.add_argument("--status", choices=[s.value for s in Status])
    p.add_argument("--party", help="partai (singkatan, nama, atau nomor urut)")
    p.add_argument("--assignee", help="petugas yang ditugasi")
    p.add_argument("--channel", choices=["email", "tatap-muka", "pesan-online", "pertemuan-online"])
    p.add_argument("--needs-answer", action="store_true", help="hanya yang perlu dijawab")
    p.add_argument("--overdue", action="store_true", help="hanya yang melewati standar waktu SOP")
    p.add_argument("--search", nargs="+", metavar="KATA",
                   help="kata di subjek, isi pesan, nama/surel pengirim atau nomor tiket (semua harus ada)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = tsub.add_parser("show", help="tampilkan satu tiket")
    p.add_argument("id", type=ticket_id, help=ID_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = tsub.add_parser("reply", help="jawab pihak partai (dikirim lewat surel)")
    p.add_argument("id", type=ticket_id, help=ID_HELP)
    _text_args(p)
    p.add_argument("--faq", help="mulai jawaban dari entri FAQ Sipol (mis. sipol-012)")
    p.add_argument("--attach", action="append", default=[], metavar="BERKAS",
                   help="lampirkan berkas (boleh diulang; paling banyak 10 MB bersama-sama)")
    p.set_defaults(func=cmd_reply)

    p = tsub.add_parser("note", help="catatan internal (tidak dikirim)")
    p.add_argument("id", type=ticket_id, help=ID_HELP)
    _text_args(p)
    p.set_defaults(func=cmd_note)

    for name, helptext, func in (("close", "tandai tiket selesai", cmd_close),
                                 ("reopen", "buka kembali tiket yang selesai", cmd_reopen)):
        p = tsub.add_parser(name, help=helptext)
        p.add_argument("id", type=ticket_id, help=ID_HELP)
        p.add_argument("--as", dest="officer", help="petugas (nama atau surel)")
        p.add_argument("--reason", help="alasan (dicatat di riwayat)")
        p.set_defaults(func=func)

    p = tsub.add_parser("escalate", help="eskalasi ke Anggota KPU Kabupaten atau KPU Provinsi")
    p.add_argument("id", type=ticket_id, help=ID_HELP)
    p.add_argument("--to", required=True, choices=["anggota", "provinsi"])
    p.add_argument("--message", default="", help="catatan petugas untuk penerima eskalasi")
    p.add_argument("--as", dest="officer", help="petugas (nama atau surel)")
    p.set_defaults(func=cmd_escalate)

    p = tsub.add_parser("new", help="catat konsultasi dari kanal lain (tatap muka, pesan, pertemuan daring)")
    p.add_argument("--channel", required=True, choices=list(CHANNELS))
    p.add_argument("--party", required=True, help="partai (singkatan, nama, atau nomor urut)")
    p.add_argument("--name", required=True, help="nama perwakilan")
    p.add_argument("--phone", help="nomor telepon/WhatsApp")
    p.add_argument("--email", help="alamat surel")
    p.add_argument("--subject", required=True, help="perihal")
    p.add_argument("--message", required=True, help="isi pertanyaan")
    p.add_argument("--evidence", nargs="*", default=[], metavar="BERKAS", help="dokumentasi (foto, rekaman, tangkapan layar)")
    p.add_argument("--as", dest="officer", help="petugas yang mencatat")
    p.add_argument("--at", metavar="WAKTU",
                   help="kapan konsultasi berlangsung, mis. '2026-12-04 09:30' (bawaan: sekarang)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_new)

    ticket_actions.register(tsub)  # `tickets answer`, `tickets void` and `tickets merge`

    faqdesk.register(sub)
    ticket_files.register(tsub)  # `tickets attachment`

    p = sub.add_parser("laporan", help="Laporan Hasil Konsultasi satu tiket")
    p.add_argument("id", type=ticket_id, help=ID_HELP)
    p.add_argument("--json", action="store_true")
    p.add_argument("--html", metavar="BERKAS", help="tulis versi HTML siap cetak ke berkas ini")
    p.add_argument("--pdf", metavar="BERKAS", help="tulis PDF (A4) ke berkas ini; PDF diarsipkan dan disalin ke folder awan")
    p.set_defaults(func=cmd_laporan)

    p = sub.add_parser("bukutamu", help="buku tamu konsultasi tatap muka")
    p.add_argument("--date", help="tanggal YYYY-MM-DD (bawaan: hari ini)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bukutamu)

    p = tsub.add_parser("assign", help="tugaskan tiket ke petugas")
    p.add_argument("id", type=ticket_id, help=ID_HELP)
    p.add_argument("assignee", help="petugas yang ditugasi (nama atau surel)")
    p.add_argument("--as", dest="officer", help="petugas yang menugaskan")
    p.set_defaults(func=cmd_assign)


def _text_args(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--file", help="ambil teks dari berkas (- untuk stdin)")
    g.add_argument("--message", help="teks langsung")
    p.add_argument("--as", dest="officer", help="petugas (nama atau surel; bawaan: default_officer)")


def read_text(args: argparse.Namespace, initial: str = "") -> str:
    """--message, --file, or $EDITOR (like git commit) when neither is given."""
    if args.message is not None:
        return args.message
    if args.file is not None:
        if args.file == "-":
            return sys.stdin.read()
        try:
            return Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"tidak dapat membaca {args.file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UserError(f"{args.file} bukan teks UTF-8") from None
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor or not sys.stdin.isatty():
        if initial:
            return initial
        raise UserError("berikan --message, --file, atau atur $EDITOR")
    with tempfile.NamedTemporaryFile("w+", suffix=".txt", encoding="utf-8", delete=False) as fh:
        fh.write(initial + "\n# Baris yang diawali # diabaikan. Kosongkan untuk membatalkan.\n")
        name = fh.name
    try:
        subprocess.run([*shlex.split(editor), name], check=True)
        text = Path(name).read_text(encoding="utf-8")
    finally:
        os.unlink(name)
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def cmd_reply(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    ticket = queries.get_ticket(args.id, app.settings.helpdesk.tag)
    officer = app.settings.officer(args.officer)
    entry = None
    initial = ""
    if args.faq is not None:
        entry = faqdesk.faq_entry(app, args.faq.strip())
        initial = entry.answer
    files = ticket_files.read_attach_files(args.attach)
    body = read_text(args, initial)
    if entry is not None and (args.message is not None or args.file is not None):
        body = body.rstrip() + "\n\n" + entry.answer
    app.officers.reply(ticket, officer=officer, body=body, faq=entry, attachments=files, archive=app.archive)
    print(f"Jawaban untuk {ref(ticket.id, app.settings.helpdesk.tag)} masuk antrean kirim "
          f"(kepada {ticket.requester}"
          + (f", {len(files)} lampiran" if files else "")
          + "); status tiket: dijawab. Kirim sekarang dengan `kpudesk send`.")
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    ticket = queries.get_ticket(args.id, app.settings.helpdesk.tag)
    app.officers.note(ticket, officer=app.settings.officer(args.officer), body=read_text(args))
    print(f"Catatan internal ditambahkan ke {ref(ticket.id, app.settings.helpdesk.tag)}.")
    return 0


def _change_state(args: argparse.Namespace, action: str, done: str) -> int:
    app = app_from_args(args)
    ticket = queries.get_ticket(args.id, app.settings.helpdesk.tag)
    getattr(app.officers, action)(ticket, officer=app.settings.officer(args.officer), reason=args.reason)
    print(f"{ref(ticket.id, app.settings.helpdesk.tag)} {done}.")
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    return _change_state(args, "close", "ditandai selesai")


def cmd_reopen(args: argparse.Namespace) -> int:
    return _change_state(args, "reopen", "dibuka kembali")


def cmd_escalate(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    ticket = queries.get_ticket(args.id, app.settings.helpdesk.tag)
    esc = app.escalations.escalate(ticket, target=args.to, officer=app.settings.officer(args.officer), note=args.message)
    who = "Anggota KPU Kabupaten" if args.to == "anggota" else "KPU Provinsi"
    print(f"{ref(ticket.id, app.settings.helpdesk.tag)} dieskalasi ke {who} ({', '.join(esc.to)}); "
          f"status: eskalasi-{args.to}.")
    if args.to == "provinsi" and ticket.requester:
        print(f"Pemberitahuan singkat untuk {ticket.requester} juga masuk antrean kirim.")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    officer = app.settings.officer(args.officer)
    ticket = walkin.register(
        walkin.WalkIn(channel=args.channel, party=args.party, name=args.name, subject=args.subject,
                      message=args.message, phone=args.phone, email=args.email,
                      evidence=tuple(Path(e) for e in args.evidence)),
        registry=app.registry, archive=app.archive, clock=app.clock, officer=officer,
        at=walkin.parse_when(args.at, app.settings.zone, app.clock.now()) if args.at else None,
        zone=app.settings.zone, tag=app.settings.helpdesk.tag)
    if args.json:
        emit_json(queries.summary(ticket, tag=app.settings.helpdesk.tag, zone=app.settings.zone))
        return 0
    print(f"Konsultasi dicatat sebagai {ref(ticket.id, app.settings.helpdesk.tag)} "
          f"({walkin.CHANNEL_LABELS[args.channel]}, {len(args.evidence)} berkas dokumentasi).")
    return 0


def cmd_laporan(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    ticket = queries.get_ticket(args.id, app.settings.helpdesk.tag)
    data = consultation_report(ticket, tag=app.settings.helpdesk.tag, calendar=app.calendar, now=app.clock.now())
    if args.json:
        emit_json(data)
        return 0
    for fmt, target in (("html", args.html), ("pdf", args.pdf)):
        if not target:
            continue
        # the web desk's /tickets/<id>/laporan: the same print view and the same filed PDF
        out = laporan_render.produce_ticket(app, ticket, fmt, actor=_laporan_actor(app))
        try:
            Path(target).write_bytes(out.data)
        except OSError as exc:
            raise UserError(f"tidak dapat menulis {target}: {exc.strerror}") from None
        print(f"Laporan {'HTML siap cetak' if fmt == 'html' else 'PDF'} ditulis ke {target}")
        if out.filed is not None:
            print(f"PDF diarsipkan dan masuk antrean folder awan: {out.filed.remote_path}")
    if args.html or args.pdf:
        return 0
    ctx = {"helpdesk": {"name": app.settings.helpdesk.name}, "laporan": data}
    print(app.replies.renderer.render("reports/laporan.txt.j2", ctx))
    return 0


def _laporan_actor(app) -> str:
    try:
        return app.settings.officer(None).name
    except (ConfigError, UserError):
        return "kpudesk"


def cmd_bukutamu(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    zone = app.settings.zone
    day = parse_date(args.date) if args.date else app.clock.now().astimezone(zone).date()
    rows = walkin.guest_book(day, zone)
    if args.json:
        emit_json(rows)
        return 0
    print(f"Buku tamu helpdesk — {tgl(day)}")
    if not rows:
        print("Tidak ada tamu tercatat.")
        return 0
    print(table(["Jam", "Nama", "Telepon", "Partai", "Perihal"],
                [[r["time"][11:16], r["name"] or "-", r["phone"] or "-", r["party"] or "-", clip(r["subject"], 40)]
                 for r in rows]))
    return 0


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"tanggal tidak valid: {text!r} (format YYYY-MM-DD)") from None


def cmd_assign(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    ticket = queries.get_ticket(args.id, app.settings.helpdesk.tag)
    assignee = app.settings.officer(args.assignee)
    app.officers.assign(ticket, officer=app.settings.officer(args.officer or args.assignee), assignee=assignee)
    print(f"{ref(ticket.id, app.settings.helpdesk.tag)} ditugaskan kepada {assignee.name}.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    h = app.settings.helpdesk
    party = queries.resolve_party(app.registry, args.party).number if args.party is not None else None
    ids = overdue_ticket_ids(app.calendar, app.clock.now()) if args.overdue else None
    search = " ".join(args.search) if args.search else None
    rows = queries.list_tickets(tag=h.tag, zone=app.settings.zone, status=args.status, party=party,
                                assignee=args.assignee, channel=args.channel, needs_answer=args.needs_answer,
                                ids=ids, search=search)
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("Tidak ada tiket.")
        return 0
    print(table(
        ["Ref", "Status", "Partai", "Pengirim", "Pesan", "Diperbarui", "Subjek"],
        [[r["ref"], r["status"] + (" !" if r["flags"].get("delivery_failed") else ""), r["party"] or "-",
          clip(r["requester_name"] or r["requester"] or "-", 28), str(r["messages"]),
          waktu_iso(r["updated_at"], app.settings.zone), clip(r["subject"], 50)] for r in rows],
    ))
    print(f"\n{len(rows)} tiket. Tanda ! = pengiriman surel gagal.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    h = app.settings.helpdesk
    t = queries.get_ticket(args.id, app.settings.helpdesk.tag)
    d = queries.detail(t, tag=h.tag, zone=app.settings.zone)
    hits = app.faq.for_ticket(t.subject, _first_question(d))
    d["faq_suggestions"] = [{"id": h.entry.id, "score": round(h.score, 3), "question": h.entry.question} for h in hits]
    d["faq_covered"] = bool(hits) and hits[0].score >= app.faq_threshold
    tm = ticket_timings(t, app.calendar, app.clock.now())
    d["timings"] = {"receive_minutes": tm.receive_minutes, "answer_minutes": tm.answer_minutes,
                    "escalation_minutes": tm.escalation_minutes, "overdue": tm.overdue,
                    "breaches": [{"step": b.step, "label": b.label, "standard": b.standard_minutes,
                                  "minutes": round(b.actual_minutes, 1), "over": round(b.over_minutes, 1)}
                                 for b in tm.breaches]}
    if args.json:
        emit_json(d)
        return 0
    print(render_ticket(d, app.settings.zone))
    return 0


def _first_question(d: dict) -> str:
    return next((m["text"] for m in d["messages"] if m["direction"] == "in"), "")
