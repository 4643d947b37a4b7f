"""The progress dashboard (issue 15 item 5, `/progress`): every role reads it; the helpdesk
team and the coordinators upload the Sipol CSV with its screenshots through the same
`progress.import_csv` as `kpudesk progress import` (same row errors, all or nothing), the
evidence typed by its bytes, archived and queued for the cloud folder."""
from __future__ import annotations

import hashlib
import html as htmllib
import re
from io import BytesIO

import pytest

from kpudesk.tickets.models import Evidence, MirrorItem, ProgressImport, ProgressSnapshot
from tests.web_fixtures import OFFICERS, WebDesk, web_fixture  # noqa: F401 - the `web` fixture

TEAM = WebDesk.email("anggota-helpdesk")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"dasbor sipol" * 20
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
GOOD = "partai;pengurus;anggota;kantor;waktu\nPKB;3;1.200;1;2026-12-01 08:45\nPDIP;2;640;0;2026-12-01 08:46\n"


def upload(web, csv_text: str | bytes, *evidence: tuple[str, bytes], name: str = "progres.csv", token: bool = True):
    data = {"csv": (BytesIO(csv_text.encode() if isinstance(csv_text, str) else csv_text), name),
            "evidence": [(BytesIO(content), filename) for filename, content in evidence]}
    if token:
        data["csrf_token"] = web.token()
    return web.client.post("/progress", data=data, content_type="multipart/form-data")


def text(response) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def nothing_stored() -> bool:
    return (ProgressImport.select().count(), ProgressSnapshot.select().count(), Evidence.select().count(),
            MirrorItem.select().count()) == (0, 0, 0, 0)


def alert(response) -> str:
    page = response.get_data(as_text=True)
    found = re.search(r'<div class="import-problems" role="alert">(.*?)</div>', page, re.S)
    assert found, "no role=alert on the page"
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_upload_stores_snapshots_evidence_and_mirror_rows_and_the_page_shows_them(web):
    web.login(TEAM)
    r = upload(web, GOOD, ("dasbor-0845.png", PNG), ("rekap.pdf", PDF))
    assert r.status_code == 303 and r.headers["Location"] == "/progress"
    page = web.client.get("/progress")
    assert re.search(r'role="status">Impor progres #1 disimpan: 2 partai, 2 berkas bukti\.<', page.get_data(as_text=True))
    imp = ProgressImport.get()
    assert (imp.actor, imp.filename, imp.rows) == ("Rina Wulandari", "progres.csv", 2)
    snaps = {s.party.short: (s.officials, s.members, s.offices) for s in ProgressSnapshot.select()}
    assert snaps == {"PKB": (3, 1200, 1), "PDI Perjuangan": (2, 640, 0)}  # the registry's alias PDIP
    ev = {e.filename: e for e in Evidence.select()}
    assert {n: (e.content_type, e.sha256) for n, e in ev.items()} == {
        "dasbor-0845.png": ("image/png", hashlib.sha256(PNG).hexdigest()),
        "rekap.pdf": ("application/pdf", hashlib.sha256(PDF).hexdigest())}
    assert web.app.archive.read(ev["dasbor-0845.png"].path) == PNG
    mirrored = {m.remote_path: (m.path, m.sha256, m.size, m.status) for m in MirrorItem.select()}
    assert mirrored == {
        "2026/12/progres/dasbor-0845.png": (ev["dasbor-0845.png"].path, hashlib.sha256(PNG).hexdigest(), len(PNG), "pending"),
        "2026/12/progres/rekap.pdf": (ev["rekap.pdf"].path, hashlib.sha256(PDF).hexdigest(), len(PDF), "pending")}
    row = page.get_data(as_text=True).split('<tr data-party="1">')[1].split("</tr>")[0]
    assert "PKB" in row and "1.200 / 1.000" in row and "Rina Wulandari" in row and "1 Desember 2026 08.45 WIB" in row
    pdip = text(page).split("PDI Perjuangan")[1]
    assert "640 / 1.000 (kurang 360)" in pdip and "0 / 1 (kurang 1)" in pdip


def test_a_second_reading_shows_the_change_and_a_chart_over_the_period(web):
    web.login(TEAM)
    assert upload(web, GOOD).status_code == 303
    web.feeder.advance(hours=7)
    assert upload(web, "partai,pengurus,anggota,kantor\nPKB,4,\"1,350\",2\n", name="sore.csv").status_code == 303
    page = web.client.get("/progress").get_data(as_text=True)
    row = page.split('<tr data-party="1">')[1].split("</tr>")[0]
    assert re.search(r'data-delta="officials">\+1<', row) and re.search(r'data-delta="members">\+150<', row)
    assert "sebelumnya 1 Desember 2026 08.45 WIB" in row
    members = page.split('data-chart="p1-members"')[1].split("</figure>")[0]
    bars = re.findall(r'<rect class="bar" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', members)
    assert len(bars) == 2 and float(bars[1][1]) > float(bars[0][1])  # 1.350 drawn taller than 1.200
    assert 'class="requirement"' in members and "syarat 1.000" in members
    assert "<title>01/12 08.45: 1.200</title>" in members and "<title>01/12 16.00: 1.350</title>" in members
    table = page.split("Angka PKB per pembacaan")[1].split("</table>")[0]
    assert "1.200" in table and "1.350" in table  # the same numbers as a table
    assert "<script" not in page.split("<main")[1]


@pytest.mark.parametrize("csv_text, expected", [
    ("nama;jumlah\nPKB;3\n", ["baris 1: judul kolom wajib tidak ada: partai, pengurus, anggota, kantor (ditemukan: 'nama', 'jumlah')"]),
    ("partai;pengurus;anggota;kantor\nPKB;3;1200;1\nGolkar;-2;10;1\n", ["baris 3: kolom pengurus: '-2' negatif"]),
    ("partai;pengurus;anggota;kantor\nPKB;3;1200;1\nPartai Entah;1;2;3\nGolkar;x;2;3\n",
     ["baris 3: partai 'Partai Entah' tidak dikenal", "baris 4: kolom pengurus: 'x' bukan bilangan bulat"]),
])
def test_a_bad_csv_lists_its_rows_in_bahasa_and_stores_nothing(web, csv_text, expected):
    web.login(TEAM)
    r = upload(web, csv_text, ("dasbor.png", PNG))
    assert r.status_code == 400
    said = alert(r)
    assert "tidak ada data yang disimpan" in said
    for line in expected:
        assert line in said
    assert nothing_stored()


def test_an_exe_named_png_is_refused_and_nothing_is_stored(web):
    web.login(TEAM)
    r = upload(web, GOOD, ("dasbor.png", EXE))
    assert r.status_code == 400
    assert "bukti dasbor.png: isi berkas bukan gambar atau PDF (jenis application/x-msdownload); tidak diterima" in alert(r)
    assert nothing_stored()


def test_an_evidence_name_with_a_path_is_stored_under_its_last_part(web):
    web.login(TEAM)
    assert upload(web, GOOD, ("../../etc/passwd", PNG)).status_code == 303
    ev = Evidence.get()
    assert ev.filename == "passwd" and ev.path.startswith("evidence/") and ev.content_type == "image/png"
    assert MirrorItem.get().remote_path == "2026/12/progres/passwd"


def test_the_same_readings_twice_are_refused_as_the_cli_refuses_them(web):
    web.login(TEAM)
    assert upload(web, GOOD).status_code == 303
    r = upload(web, GOOD)
    assert r.status_code == 400 and "sudah diimpor (impor #1)" in alert(r)
    assert ProgressImport.select().count() == 1


def test_no_file_and_no_csrf_token_store_nothing(web):
    web.login(TEAM)
    r = web.post("/progress", {})
    assert r.status_code == 400 and "pilih berkas CSV" in alert(r)
    r = upload(web, GOOD, ("dasbor.png", PNG), token=False)
    assert r.status_code == 400 and 'role="alert"' in r.get_data(as_text=True)
    assert nothing_stored()


@pytest.mark.parametrize("role", [o["role"] for o in OFFICERS])
def test_every_role_reads_and_only_the_team_and_coordinators_import(tmp_path, role):
    desk = WebDesk(tmp_path)
    desk.login(WebDesk.email(role))
    may = role in ("anggota-helpdesk", "koordinator-harian", "koordinator")
    page = desk.client.get("/progress")
    assert page.status_code == 200
    assert ('action="/progress"' in page.get_data(as_text=True)) is may
    r = upload(desk, GOOD, ("dasbor.png", PNG))
    if may:
        assert r.status_code == 303 and ProgressImport.select().count() == 1
    else:
        assert r.status_code == 403 and 'role="alert"' in r.get_data(as_text=True)
        assert nothing_stored()


def test_not_logged_in_goes_to_the_login(web):
    r = web.client.get("/progress")
    assert r.status_code in (302, 303) and "/login?next=" in r.headers["Location"]


def test_an_upload_over_the_limit_is_refused_whole(tmp_path):
    desk = WebDesk(tmp_path, extra={"web": {"max_upload_mb": 1}})
    desk.login(TEAM)
    r = upload(desk, GOOD, ("dasbor.png", PNG + b"\x00" * (2 * 1024 * 1024)))
    assert r.status_code == 413 and "melebihi batas ukuran" in r.get_data(as_text=True)
    assert nothing_stored()
