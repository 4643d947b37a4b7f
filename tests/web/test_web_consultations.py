"""Laporan Hasil Konsultasi in the web desk (issue 15 item 4): `/reports/consultations` on
screen, as the print view, PDF, CSV and XLSX, and `/tickets/<id>/laporan`; who may see
them; bad input; every PDF filed in the archive and the cloud-folder queue.

PDF text is read back with pypdf, CSV with the standard library, XLSX with openpyxl, and
compared with the database."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import datetime

import pytest

from kpudesk.tickets import walkin
from kpudesk.tickets.models import Identity, MirrorItem, Ticket
from tests.web_fixtures import WebDesk, web_fixture  # noqa: F401 - the `web` fixture

pypdf = pytest.importorskip("pypdf", reason="pypdf reads the PDF's text back (pip install pypdf)")
openpyxl = pytest.importorskip("openpyxl")

READERS = ("ketua", "sekretaris")
NO_REPORTS = ("anggota-helpdesk", "anggota-kpu")
PARTIES = ("PKB", "Gerindra", "PDIP", "Golkar", "NasDem")


def visit(web, *, party="PKB", name="Hendra Gunawan", channel="tatap-muka", subject="Verifikasi faktual",
          message="Kapan jadwal verifikasi faktual keanggotaan?", phone="0812 7777 8888") -> Ticket:
    return walkin.register(walkin.WalkIn(channel=channel, party=party, name=name, subject=subject, message=message,
                                         phone=phone),
                           registry=web.app.registry, archive=web.app.archive, clock=web.clock,
                           officer=web.feeder.officer())


def html(r) -> str:
    return r.get_data(as_text=True)


def rows_on(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-ticket-id="(\d+)"', page)]


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


# --- who may see it -------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_the_chair_and_the_secretary_see_the_periods_consultations(web, role):
    a = visit(web, name="Hendra Gunawan")
    b = visit(web, party="PDIP", name="Lia Anggraini", channel="pesan-online")
    web.login(web.email(role))
    r = web.client.get("/reports/consultations?from=2026-12-01&to=2026-12-01")
    page = html(r)
    assert r.status_code == 200 and rows_on(page) == [a.id, b.id]
    assert 'href="/reports/consultations"' in page  # the nav's "Laporan"
    row = page[page.index(f'data-ticket-id="{b.id}"'):].split("</tr>")[0]
    assert f'href="/tickets/{b.id}"' in row and "Lia Anggraini" in row and "Partai Demokrasi Indonesia Perjuangan" in row
    assert "1 Desember 2026 09.00 WIB" in row and "Pesan daring" in row
    assert re.search(r'role="status">\s*2 konsultasi pada 1 Desember 2026', page)


@pytest.mark.parametrize("role", ("koordinator-harian", "koordinator"))
def test_the_coordinator_reads_the_laporan(web, role):
    visit(web)
    web.login(web.email(role))
    assert web.client.get("/reports/consultations").status_code == 200


@pytest.mark.parametrize("role", NO_REPORTS)
@pytest.mark.parametrize("fmt", ("", "pdf", "csv", "xlsx", "html"))
def test_roles_without_reports_get_403_and_nothing_is_filed(web, role, fmt):
    visit(web)
    web.login(web.email(role))
    r = web.client.get("/reports/consultations" + (f"?format={fmt}" if fmt else ""))
    assert r.status_code == 403 and "Tidak diizinkan" in html(r)
    assert MirrorItem.select().count() == 0


def test_not_logged_in_is_sent_to_the_login(web):
    r = web.client.get("/reports/consultations?format=pdf")
    assert r.status_code in (302, 303) and "/login?next=" in r.headers["Location"]


# --- filters and bad input ------------------------------------------------------------


def test_party_by_alias_and_channel_narrow_the_table(web):
    pkb = visit(web, party="PKB")
    pdip = visit(web, party="PDIP", name="Lia", channel="pesan-online")
    chat = visit(web, party="PKB", name="Rudi", channel="pesan-online")
    web.login(web.email("ketua"))
    assert rows_on(html(web.client.get("/reports/consultations?party=PDI-P"))) == [pdip.id]
    assert rows_on(html(web.client.get("/reports/consultations?party=1"))) == [pkb.id, chat.id]
    assert rows_on(html(web.client.get("/reports/consultations?channel=pesan-online"))) == [pdip.id, chat.id]
    page = html(web.client.get("/reports/consultations?party=pkb&channel=pesan-online"))
    assert rows_on(page) == [chat.id] and "partai Partai Kebangkitan Bangsa" in page
    assert rows_on(html(web.client.get("/reports/consultations?from=2026-11-01&to=2026-11-30"))) == []


@pytest.mark.parametrize("query, needle", [
    ("from=2026-12-32", "tanggal dari tidak valid"),
    ("from=01-12-2026", "gunakan YYYY-MM-DD"),
    ("from=2026-12-05&to=2026-12-01", "sesudah tanggal akhir"),
    ("party=Partai+Antah+Berantah", "partai"),
    ("channel=telepon", "kanal tidak dikenal"),
])
def test_bad_input_is_an_alert_on_screen_and_a_400_for_every_file(web, query, needle):
    visit(web)
    web.login(web.email("sekretaris"))
    r = web.client.get(f"/reports/consultations?{query}")
    alert = re.search(r'role="alert">([^<]*)<', html(r))
    assert r.status_code == 200 and alert and needle in alert.group(1).replace("&#39;", "'")
    assert rows_on(html(r)) == []
    for fmt in ("pdf", "csv", "xlsx", "html"):
        r = web.client.get(f"/reports/consultations?{query}&format={fmt}")
        assert r.status_code == 400 and r.mimetype == "text/html" and "Content-Disposition" not in r.headers
        assert needle in html(r).replace("&#39;", "'") and 'role="alert"' in html(r)
    assert web.client.get("/reports/consultations?format=docx").status_code == 400
    assert MirrorItem.select().count() == 0


# --- the files ------------------------------------------------------------------------


def test_a_periods_pdf_of_forty_tickets_is_paged_a4_carries_every_ticket_and_is_filed(web):
    made = []
    for i in range(40):
        made.append(visit(web, party=PARTIES[i % 5], name=f"Perwakilan {i:02d}", subject=f"Pertanyaan nomor {i:02d}",
                          message="Bagaimana cara mengunggah dokumen keanggotaan ke Sipol? " * 3))
        web.clock.advance(minutes=7)
    web.login(web.email("ketua"))
    r = web.client.get("/reports/consultations?from=2026-12-01&to=2026-12-01&format=pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == 'attachment; filename="laporan-2026-12-01.pdf"'
    pages, text = pdf_text(r.data)
    assert 4 <= pages <= 10, pages  # ~6 tickets to a landscape A4 page, never one page per ticket
    words = flat(text)
    for t in made:
        assert re.search(rf"HD-MSJ #{t.id}(?!\d)", words), t.id  # each reference, whole
    assert "Partai Kebangkitan Bangsa" in words and "Partai Golongan Karya" in words
    assert "1 Desember 2026 09.00 WIB" in words and "1 Desember 2026 13.33 WIB" in words  # the first and the last
    assert "KOMISI PEMILIHAN UMUM" in words and "KABUPATEN MESUJI" in words and "Koordinator Harian" in words
    assert f"Halaman 1 dari {pages}" in words and f"Halaman {pages} dari {pages}" in words
    texts = [flat(p.extract_text()) for p in pypdf.PdfReader(io.BytesIO(r.data)).pages]
    assert all("Nomor tiket" in page for page in texts)  # the table's header on every page
    assert "Koordinator Harian" in texts[-1] and "HD-MSJ #" in texts[-1]  # the signature not alone on a page
    # filed: the archive holds these very bytes, the cloud folder's queue has them once
    (item,) = MirrorItem.select()
    assert item.sha256 == hashlib.sha256(r.data).hexdigest() and item.size == len(r.data)
    assert item.remote_path == "2026/12/laporan/laporan-2026-12-01.pdf" and item.ticket_id is None
    assert web.app.archive.read(item.path) == r.data
    again = web.client.get("/reports/consultations?from=2026-12-01&to=2026-12-01&format=pdf")
    assert again.data == r.data and MirrorItem.select().count() == 1  # the same report is filed once


def test_csv_reads_back_in_excels_indonesian_form_and_matches_the_database(web):
    a = visit(web, name="Hendra Gunawan")
    web.clock.advance(minutes=12)
    b = visit(web, party="PDIP", name="Lia Anggraini", channel="pesan-online", phone="0813-1111-2222",
              message="=HYPERLINK(\"http://evil.example\",\"klik\")")
    web.login(web.email("ketua"))
    r = web.client.get("/reports/consultations?format=csv")
    assert r.status_code == 200 and r.headers["Content-Disposition"] == 'attachment; filename="laporan-2026-12-01.csv"'
    assert r.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads UTF-8 only with it
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig")), delimiter=";"))
    assert [row["Nomor tiket"] for row in rows] == [f"HD-MSJ #{a.id}", f"HD-MSJ #{b.id}"]
    zone = web.settings.zone
    for row, t in zip(rows, (a, b)):
        ident = Identity.get(Identity.ticket == t)
        assert (row["Nama"], row["Partai"], row["Telepon"]) == (ident.name, ident.party, ident.phone)
        assert row["Diterima"] == Ticket.get_by_id(t.id).created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        assert row["Kanal"] == walkin.CHANNEL_LABELS[t.channel]
    assert rows[1]["Diterima"] == "2026-12-01 09:12"
    assert rows[1]["Pertanyaan"].startswith("'=HYPERLINK")  # a party's formula stays text


def test_xlsx_has_a_header_real_dates_and_the_databases_rows(web):
    a = visit(web, name="Hendra Gunawan")
    web.clock.advance(minutes=30)
    b = visit(web, party="PDIP", name="Lia Anggraini", message="=1+1")
    web.login(web.email("sekretaris"))
    r = web.client.get("/reports/consultations?from=2026-12-01&to=2026-12-01&party=&format=xlsx")
    assert r.status_code == 200 and r.headers["Content-Disposition"] == 'attachment; filename="laporan-2026-12-01.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(r.data)).active
    values = list(sheet.iter_rows(values_only=True))
    header = values[0]
    assert header[:6] == ("No", "Nomor tiket", "Diterima", "Kanal", "Nama", "Partai")
    assert all(c.font.bold for c in sheet[1])
    assert sheet.column_dimensions["J"].width >= 40  # the question has room
    zone = web.settings.zone
    for line, t in zip(values[1:], (a, b)):
        ident = Identity.get(Identity.ticket == t)
        created = Ticket.get_by_id(t.id).created_at.astimezone(zone).replace(tzinfo=None)
        assert line[1] == f"HD-MSJ #{t.id}" and (line[4], line[5]) == (ident.name, ident.party)
        assert isinstance(line[2], datetime) and line[2] == created  # a real date, local time
    assert values[2][2] == datetime(2026, 12, 1, 9, 30)
    cell = sheet.cell(row=3, column=header.index("Pertanyaan") + 1)
    assert cell.value == "=1+1" and cell.data_type == "s"  # text, never a formula
    assert len(values) == 3


def test_the_print_view_is_the_pdfs_html_with_the_print_stylesheet(web):
    t = visit(web)
    web.login(web.email("ketua"))
    r = web.client.get("/reports/consultations?format=html")
    page = html(r)
    assert r.status_code == 200 and page.startswith("<!DOCTYPE html>")
    assert 'href="/static/laporan_print.css"' in page and "<style" not in page  # the desk's CSP: no inline style
    assert f"HD-MSJ #{t.id}" in page and "Koordinator Harian" in page and "KABUPATEN MESUJI" in page
    css = web.client.get("/static/laporan_print.css").get_data(as_text=True)
    for rule in ("size: A4", 'counter(page) " dari " counter(pages)', "display: table-header-group",
                 "break-inside: avoid"):
        assert rule in css
    assert MirrorItem.select().count() == 0  # only PDFs are filed


# --- one ticket's Laporan -------------------------------------------------------------


def test_a_tickets_laporan_prints_and_its_pdf_is_filed_in_the_tickets_folder(web):
    t = visit(web, name="Hendra Gunawan")
    web.clock.advance(minutes=5)
    web.app.officers.answer(Ticket.get_by_id(t.id), officer=web.feeder.officer(), body="Jadwal diumumkan pekan depan.")
    web.login(web.email("koordinator-harian"))
    page = html(web.client.get(f"/tickets/{t.id}/laporan"))
    assert "LAPORAN HASIL KONSULTASI" in page and "Jadwal diumumkan pekan depan." in page
    r = web.client.get(f"/tickets/{t.id}/laporan?format=pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == f'attachment; filename="laporan-HD-MSJ-{t.id}.pdf"'
    pages, text = pdf_text(r.data)
    words = flat(text)
    assert pages == 1 and f"HD-MSJ #{t.id}" in words and "Hendra Gunawan" in words
    assert "Partai Kebangkitan Bangsa" in words and "1 Desember 2026 09.05 WIB" in words
    assert "Dewi Lestari" in words  # a coordinator's own name on the signature line
    (item,) = MirrorItem.select()
    assert item.ticket_id == t.id and item.remote_path == f"2026/12/HD-MSJ-{t.id}/laporan-HD-MSJ-{t.id}.pdf"
    assert item.sha256 == hashlib.sha256(r.data).hexdigest()


def test_a_tickets_laporan_follows_who_may_see_the_ticket(web):
    t = visit(web)
    web.login(web.email("anggota-kpu"))  # not escalated to them
    assert web.client.get(f"/tickets/{t.id}/laporan?format=pdf").status_code == 403
    other = web.browser()
    other.login(other.email("anggota-helpdesk"))
    assert other.client.get(f"/tickets/{t.id}/laporan").status_code == 200
    assert other.client.get("/tickets/999/laporan").status_code == 404
    assert other.client.get(f"/tickets/{t.id}/laporan?format=csv").status_code == 400
    assert MirrorItem.select().count() == 0


def test_the_ticket_page_links_its_laporan(web):
    visit(web)
    tid = Ticket.select().order_by(Ticket.id.desc()).first().id
    web.login(web.email("anggota-helpdesk"))
    page = web.client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert f'href="/tickets/{tid}/laporan"' in page and f'href="/tickets/{tid}/laporan?format=pdf"' in page
    assert web.client.get(f"/tickets/{tid}/laporan").status_code == 200
