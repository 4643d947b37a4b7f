"""The Laporan Hasil Konsultasi as files: HTML print view, PDF, CSV and XLSX, for the web desk
(`/reports/consultations`, `/tickets/<id>/laporan`) and the CLI (`kpudesk report laporan`,
`kpudesk laporan`) alike, so both hand out the same bytes for the same data.

The HTML is the mail templates' Jinja environment (`app.replies.renderer`,
`reports/laporan.html.j2`) with the print stylesheet `web/static/laporan_print.css`; the PDF
is WeasyPrint's rendering of that very HTML (CSS paged media: A4, page numbers, the table
header repeated, rows kept whole). Every PDF made is filed (archive + cloud-folder queue,
`tickets.laporan.file_pdf`): the SOP files every report, and the same bytes are kept once.

CSV: UTF-8 with a byte-order mark (Excel reads UTF-8 only with it) and `;` between fields,
the list separator of Excel under the Indonesian locale (whose decimal separator is the
comma), so a double-click opens it in columns. XLSX: a header row, fixed column widths,
the reception time as a real date-time cell. Text from parties that a spreadsheet would
read as a formula (=, +, -, @ first) is written as text, never as a formula.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kpudesk.mailbox.render import tgl
from kpudesk.tickets import laporan_period
from kpudesk.tickets.laporan import consultation_report, file_pdf
from kpudesk.tickets.laporan_period import Period
from kpudesk.tickets.mirror import safe_part
from kpudesk.tickets.models import MirrorItem, Ticket
from kpudesk.tickets.status import ref

FORMATS = ("html", "pdf", "csv", "xlsx")
BINARY = frozenset({"pdf", "xlsx"})
MIMETYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
PRINT_CSS = Path(__file__).resolve().parent / "web" / "static" / "laporan_print.css"
TEMPLATE = "reports/laporan.html.j2"

# "Helpdesk KPU Kabupaten Mesuji" -> the letterhead's "KABUPATEN MESUJI", signed at "Mesuji"
_REGION = re.compile(r"\bKPU\s+((?:Kabupaten|Kota|Provinsi)\s+.+?)\s*$", re.IGNORECASE)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Output:
    data: bytes
    mimetype: str
    filename: str
    filed: MirrorItem | None = None  # the cloud-folder row of a filed PDF


def helpdesk(settings) -> dict:
    """The letterhead: the helpdesk's name and address from `[helpdesk]`, and the region
    (KPU Kabupaten/Kota …) read from the name when it carries one."""
    h = settings.helpdesk
    found = _REGION.search(h.name or "")
    region = found.group(1) if found else None
    place = re.sub(r"^(Kabupaten|Kota|Provinsi)\s+", "", region, flags=re.IGNORECASE) if region else None
    return {"name": h.name, "address": h.address, "tag": h.tag, "region": region, "place": place}


def css() -> str:
    return PRINT_CSS.read_text(encoding="utf-8")


# --- data -----------------------------------------------------------------------------------


def period_data(app, period: Period) -> dict:
    return laporan_period.consultations(period, tag=app.settings.helpdesk.tag, calendar=app.calendar,
                                        now=app.clock.now())


def ticket_data(app, ticket: Ticket) -> dict:
    data = consultation_report(ticket, tag=app.settings.helpdesk.tag, calendar=app.calendar, now=app.clock.now())
    # to the minute, like the period report: two downloads in one minute are one filed PDF
    data["generated_at"], data["generated_at_label"] = laporan_period.report_time(app.clock.now(), app.settings.zone)
    return data


# --- renderers ------------------------------------------------------------------------------


def html(app, *, period: dict | None = None, laporan: dict | None = None, signer: str | None = None,
         css_href: str | None = None, fragment: bool = False) -> str:
    """The print view (stylesheet inlined, or linked when `css_href` is given), or with
    `fragment` only the period's table."""
    ctx: dict = {"helpdesk": helpdesk(app.settings), "signer": signer, "fragment": fragment,
                 "sign_date_label": tgl(app.clock.now(), app.settings.zone)}
    if period is not None:
        ctx["period"] = period
    else:
        ctx["laporan"] = laporan
    if css_href is not None:
        ctx["print_css_href"] = css_href
    else:
        ctx["print_css"] = css()
    return app.replies.renderer.render(TEMPLATE, ctx)


def pdf(page: str) -> bytes:
    """WeasyPrint's PDF of a print view (its stylesheet inlined, no outside resource)."""
    import weasyprint  # noqa: PLC0415 - lazy: ~0.4 s to import, only a PDF needs it (every CLI command loads this module)

    return weasyprint.HTML(string=page, base_url=str(PRINT_CSS.parent)).write_pdf()


HEADERS = ("No", "Nomor tiket", "Diterima", "Kanal", "Nama", "Partai", "Telepon", "Surel", "Perihal",
           "Pertanyaan", "Jawaban", "Dijawab oleh", "Waktu jawaban", "Eskalasi", "Status", "Waktu SOP",
           "Melebihi standar (menit)", "Dokumentasi")
WIDTHS = (5, 13, 17, 14, 22, 30, 16, 26, 28, 50, 50, 20, 22, 30, 20, 30, 12, 11)


def _cells(data: dict):
    """The spreadsheet rows of a period report: plain values, one list per ticket."""
    for n, r in enumerate(data["rows"], 1):
        answers = r["answers"]
        yield [n, r["ref"], datetime.fromisoformat(r["received_at"]), r["channel_label"], r["name"] or "",
               r["party"] or "", r["phone"] or "", r["email"] or "", r["subject"], r["question"],
               " | ".join(a["text"] for a in answers), " | ".join(a["by"] or "-" for a in answers),
               " | ".join(a["at_label"] for a in answers),
               " | ".join(f"{e['to_label']} {e['at_label']}" + (f" (dijawab {e['answered_at_label']})"
                                                                 if e["answered_at"] else " (belum dijawab)")
                          for e in r["escalations"]),
               r["status_label"], r["sop_label"], r["overdue_minutes"], r["documentation"]]


def _text_safe(value):
    """A party's text that would start a formula, made inert for a spreadsheet."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(data: dict, zone) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(HEADERS)
    for cells in _cells(data):
        cells[2] = cells[2].astimezone(zone).strftime("%Y-%m-%d %H:%M")
        w.writerow([_text_safe(c) if i not in (2, 6) else c for i, c in enumerate(cells)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(data: dict, zone) -> bytes:
    import openpyxl  # noqa: PLC0415 - lazy: ~0.15 s to import, only an XLSX needs it
    from openpyxl.styles import Alignment, Font  # noqa: PLC0415 - lazy: as above
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - lazy: as above

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Laporan Konsultasi"
    sheet.append(list(HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cells in _cells(data):
        cells[2] = cells[2].astimezone(zone).replace(tzinfo=None)  # Excel has no time zones: local time
        sheet.append(cells)
        row = sheet[sheet.max_row]
        row[2].number_format = "dd/mm/yyyy hh:mm"
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the party typed
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, width in enumerate(WIDTHS):
        sheet.column_dimensions[get_column_letter(i + 1)].width = width
    sheet.freeze_panes = "C2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- what the web desk and the CLI call -----------------------------------------------------


def period_filename(data: dict, fmt: str) -> str:
    p, f = data["period"], data["filters"]
    name = f"laporan-{p['from']}" + (f"_{p['to']}" if p["to"] != p["from"] else "")
    if f["party_short"]:
        name += f"-{safe_part(f['party_short'])}"
    if f["channel"]:
        name += f"-{f['channel']}"
    return f"{name}.{fmt}"


def produce_period(app, period: Period, fmt: str, *, actor: str, signer: str | None = None,
                   css_href: str | None = None) -> Output:
    """The period report in `fmt`; a PDF is filed as it is made."""
    data = period_data(app, period)
    name = period_filename(data, fmt)
    zone = app.settings.zone
    if fmt == "csv":
        return Output(csv_bytes(data, zone), MIMETYPES[fmt], name)
    if fmt == "xlsx":
        return Output(xlsx_bytes(data, zone), MIMETYPES[fmt], name)
    page = html(app, period=data, signer=signer, css_href=css_href if fmt == "html" else None)
    if fmt == "html":
        return Output(page.encode("utf-8"), MIMETYPES[fmt], name)
    body = pdf(page)
    item = file_pdf(body, name=name, archive=app.archive, now=app.clock.now(), zone=zone, actor=actor,
                    tag=app.settings.helpdesk.tag, period={"from": data["period"]["from"], "to": data["period"]["to"],
                                                           **{k: v for k, v in data["filters"].items() if v}})
    return Output(body, MIMETYPES[fmt], name, item)


def produce_ticket(app, ticket: Ticket, fmt: str, *, actor: str, signer: str | None = None,
                   css_href: str | None = None) -> Output:
    """One ticket's Laporan as the print view (`html`) or a filed PDF."""
    if fmt not in ("html", "pdf"):
        raise ValueError(f"a ticket's Laporan is html or pdf, not {fmt}")
    data = ticket_data(app, ticket)
    name = f"laporan-{safe_part(ref(ticket.id, app.settings.helpdesk.tag))}.{fmt}"
    page = html(app, laporan=data, signer=signer, css_href=css_href if fmt == "html" else None)
    if fmt == "html":
        return Output(page.encode("utf-8"), MIMETYPES[fmt], name)
    body = pdf(page)
    item = file_pdf(body, name=name, archive=app.archive, now=app.clock.now(), zone=app.settings.zone, actor=actor,
                    tag=app.settings.helpdesk.tag, ticket=ticket)
    return Output(body, MIMETYPES[fmt], name, item)
