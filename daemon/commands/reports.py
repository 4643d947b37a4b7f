"""`kpudesk progress import ...` and `kpudesk report progress|recap|laporan ...`: Sipol progress
and reports. `report laporan` is the Laporan Hasil Konsultasi of a period, made by the very
calls the web desk's `/reports/consultations` makes (tickets.laporan_period, daemon.laporan_render)."""
from __future__ import annotations

import argparse
from email import message_from_bytes, policy
import sys
from datetime import UTC, date, datetime, time, timedelta

from kpudesk.tickets import reports
from kpudesk.tickets.errors import ConfigError, UserError
from kpudesk.tickets.laporan_period import parse_period
from kpudesk.tickets.progress import Evidence, ProgressSnapshot, import_csv
from kpudesk.tickets.labels import iso

from .. import laporan_render
from .common import emit_json
from .common import app_from_args, table

EX_USAGE = 2


def register(sub) -> None:
    p = sub.add_parser("progress", help="progres pengisian data Sipol")
    psub = p.add_subparsers(dest="progress_command", required=True, metavar="AKSI")
    i = psub.add_parser("import", help="impor angka dasbor Sipol dari berkas CSV (lihat docs/progress-csv.md)")
    i.add_argument("file", metavar="BERKAS.csv")
    i.add_argument("--evidence", nargs="+", action="extend", default=[], metavar="BERKAS",
                   help="tangkapan layar dasbor Sipol sebagai bukti (boleh lebih dari satu)")
    i.add_argument("--as", dest="officer", help="petugas (nama atau surel)")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_progress_import)

    r = sub.add_parser("report", help="laporan progres Sipol dan rekapitulasi harian")
    rsub = r.add_subparsers(dest="report_command", required=True, metavar="LAPORAN")
    for name, helptext, func in (("progress", "laporan progres pengisian data Sipol", cmd_report_progress),
                                 ("recap", "rekapitulasi harian layanan helpdesk", cmd_report_recap)):
        x = rsub.add_parser(name, help=helptext)
        x.add_argument("--date", type=_date, metavar="YYYY-MM-DD",
                       help="tanggal laporan (bawaan: hari ini, zona waktu helpdesk)")
        x.add_argument("--send", action="store_true",
                       help="masukkan ke antrean kirim sekarang (laporan tambahan, di luar jadwal)")
        x.add_argument("--json", action="store_true")
        x.set_defaults(func=func)

    x = rsub.add_parser("laporan", help="Laporan Hasil Konsultasi suatu periode (HTML, PDF, CSV, XLSX)")
    x.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="tanggal awal (bawaan: hari ini)")
    x.add_argument("--to", dest="end", metavar="YYYY-MM-DD",
                   help="tanggal akhir, ikut dihitung (bawaan: hari ini, atau tanggal awal bila itu nanti)")
    x.add_argument("--party", help="hanya partai ini (singkatan, nama, alias, atau nomor urut)")
    x.add_argument("--channel", help="hanya kanal ini (email, tatap-muka, pesan-online, pertemuan-online)")
    x.add_argument("--format", choices=laporan_render.FORMATS, default="html",
                   help="bentuk laporan (bawaan: html, tampilan cetak A4)")
    x.add_argument("--output", metavar="BERKAS", help="tulis ke berkas ini (bawaan: keluaran standar)")
    x.add_argument("--as", dest="officer", help="petugas pembuat (nama atau surel; koordinator: namanya di tanda tangan)")
    x.set_defaults(func=cmd_report_laporan)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tanggal tidak valid: {text!r} (gunakan YYYY-MM-DD)") from None


def _actor(app, who: str | None) -> str:
    if app.settings.officers:
        return app.settings.officer(who).name
    return who or "petugas"


def _aliases(app) -> dict[str, int]:
    return {alias: p.number for p in app.registry.parties for alias in getattr(p, "aliases", ())}


# --- progress import ---------------------------------------------------------------------------


def cmd_progress_import(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    zone = app.settings.zone
    imp = import_csv(args.file, evidence_files=args.evidence, archive=app.archive, clock=app.clock, zone=zone,
                     actor=_actor(app, args.officer), aliases=_aliases(app), typed=True)
    snaps = list(ProgressSnapshot.select().where(ProgressSnapshot.import_ == imp)
                 .order_by(ProgressSnapshot.id))
    evidence = list(Evidence.select().where(Evidence.import_ == imp).order_by(Evidence.id))
    if args.json:
        emit_json({
            "id": imp.id, "filename": imp.filename, "sha256": imp.sha256, "rows": imp.rows, "actor": imp.actor,
            "imported_at": iso(imp.imported_at, zone),
            "snapshots": [{"party": s.party.short, "number": s.party.number, "officials": s.officials,
                           "members": s.members, "offices": s.offices, "taken_at": iso(s.taken_at, zone)}
                          for s in snaps],
            "evidence": [{"filename": e.filename, "content_type": e.content_type, "size": e.size,
                          "sha256": e.sha256, "path": str(app.archive.path(e.path))} for e in evidence],
        })
    else:
        print(f"Impor progres #{imp.id} disimpan: {imp.rows} partai, {len(evidence)} berkas bukti.")
        print(table(["No", "Partai", "Pengurus", "Anggota", "Kantor", "Waktu data"],
                    [[str(s.party.number), s.party.short, _num(s.officials), _num(s.members), _num(s.offices),
                      s.taken_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")] for s in sorted(snaps, key=lambda s: s.party.number)]))
        for e in evidence:
            print(f"Bukti: {e.filename} ({_num(e.size)} bita) sha256 {e.sha256}")
    if not evidence:
        print("Peringatan: tidak ada berkas bukti (--evidence); SOP meminta tangkapan layar dasbor Sipol.",
              file=sys.stderr)
    return 0


def _num(n: int) -> str:
    return f"{n:,}".replace(",", ".")


# --- reports -----------------------------------------------------------------------------------


def _as_of(app, day: date | None) -> datetime:
    """Now, or the end of `day` (local) when that is earlier."""
    now = app.clock.now()
    if day is None:
        return now
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=app.settings.zone).astimezone(UTC)
    return min(now, end - timedelta(microseconds=1))


def cmd_report_progress(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    s = app.settings
    if args.send:
        if args.date is not None:
            raise UserError("laporan progres selalu memuat data terkini; --date tidak dapat dipakai dengan --send")
        item = reports.send_progress_report(replies=app.replies, archive=app.archive, clock=app.clock, zone=s.zone,
                                            recipients=s.reports.progress_to)
        return _queued(args, item, "Laporan progres Sipol")
    at = _as_of(app, args.date)
    data = reports.progress_report_data(at, s.zone, reports.last_report_at("progress", at), tag=s.helpdesk.tag)
    return _show(args, app, data, reports.progress_context, "reports/progress.txt.j2", at)


def cmd_report_recap(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    s = app.settings
    now = app.clock.now()
    day = args.date or now.astimezone(s.zone).date()
    if args.send:
        item = reports.send_recap(replies=app.replies, clock=app.clock, zone=s.zone, calendar=app.calendar,
                                  recipients=s.reports.recap_to, local_date=day)
        return _queued(args, item, "Rekapitulasi harian")
    data = reports.recap_data(day, app.calendar, now, tag=s.helpdesk.tag)
    return _show(args, app, data, reports.recap_context, "reports/recap.txt.j2", now)


def _show(args: argparse.Namespace, app, data: dict, context, template: str, slot_at) -> int:
    """A report on the terminal: its JSON, or the text the commission would receive."""
    if args.json:
        emit_json(data)
        return 0
    ctx = context(data, helpdesk=_helpdesk(app), slot_at=slot_at, late=False, scheduled=False)
    sys.stdout.write(app.replies.renderer.render(template, ctx))
    return 0


def _helpdesk(app) -> dict:
    return reports.helpdesk_context(app.replies)


def _queued(args: argparse.Namespace, item, what: str) -> int:
    if item.mail is not None:
        subject = item.mail["subject"]
    else:
        subject = str(message_from_bytes(bytes(item.data), policy=policy.default)["Subject"] or "")
    if args.json:
        emit_json({"queued": item.id, "kind": item.kind, "to": item.recipients, "subject": subject})
    else:
        print(f"{what} masuk antrean kirim (#{item.id}) kepada {', '.join(item.recipients)}.")
        print(f"Subjek: {subject}")
        print("Kirim sekarang dengan `kpudesk send`, atau biarkan daemon mengirimnya.")
    return 0


# --- Laporan Hasil Konsultasi ----------------------------------------------------------------


def _maker(app, who: str | None):
    """The officer making the report: `--as`, else the default officer, else none."""
    if who:
        return app.settings.officer(who)
    try:
        return app.settings.officer(None)
    except (ConfigError, UserError):
        return None


def cmd_report_laporan(args: argparse.Namespace) -> int:
    if args.output is None and args.format in laporan_render.BINARY and (
            sys.stdout.isatty() or getattr(sys.stdout, "buffer", None) is None):
        # checked first: a refused PDF must not be made (and filed) at all
        print(f"kpudesk: galat: laporan {args.format.upper()} adalah berkas biner dan tidak ditulis ke terminal (atau keluaran teks); "
              f"pakai --output BERKAS.{args.format} atau alihkan keluaran (> BERKAS.{args.format})", file=sys.stderr)
        return EX_USAGE
    app = app_from_args(args)
    today = app.clock.now().astimezone(app.settings.zone).date()
    period = parse_period(args.start, args.end, today=today, registry=app.registry, party=args.party,
                          channel=args.channel)
    maker = _maker(app, args.officer)
    signer = maker.name if maker is not None and maker.role in ("koordinator-harian", "koordinator") else None
    out = laporan_render.produce_period(app, period, args.format, actor=maker.name if maker else "kpudesk",
                                        signer=signer)
    if args.output is None:
        raw = getattr(sys.stdout, "buffer", None)
        if raw is None:  # a text-only stdout (an embedding caller): a text format, checked above
            sys.stdout.write(out.data.decode("utf-8"))
        else:
            sys.stdout.flush()
            raw.write(out.data)
            raw.flush()
    else:
        try:
            with open(args.output, "wb") as fh:
                fh.write(out.data)
        except OSError as exc:
            raise UserError(f"tidak dapat menulis {args.output}: {exc.strerror}") from None
        print(f"Laporan {args.format.upper()} ditulis ke {args.output} ({_num(len(out.data))} bita).")
    if out.filed is not None:
        print(f"PDF diarsipkan (sha256 {out.filed.sha256}) dan masuk antrean folder awan: {out.filed.remote_path}",
              file=sys.stderr)
    return 0
