"""Sipol progress import: every figure as typed, every bad row reported, nothing half-imported."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kpudesk.tickets.archive import Archive
from kpudesk.tickets.clock import FrozenClock
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.models import Party
from kpudesk.tickets.schema import close_database, open_database
from kpudesk.tickets.progress import (
    Evidence,
    ImportRejected,
    ProgressImport,
    ProgressSnapshot,
    import_csv,
    latest_snapshots,
    previous_snapshot,
)
from kpudesk.tickets.progress_csv import parse_count
from tests.paths import DATA

ZONE = ZoneInfo("Asia/Jakarta")
WIB = timezone(timedelta(hours=7))
PARTIES = [(1, "Partai Kebangkitan Bangsa", "PKB"), (2, "Partai Gerakan Indonesia Raya", "Gerindra"),
           (3, "Partai Demokrasi Indonesia Perjuangan", "PDI Perjuangan"), (4, "Partai Golongan Karya", "Golkar"),
           (5, "Partai Nasional Demokrat", "NasDem")]
PNG = b"\x89PNG\r\n\x1a\n" + b"dasbor sipol 07.45" * 50


def wib(h, mi=0, d=0) -> datetime:
    return datetime(2026, 11, 27 + d, h, mi, tzinfo=WIB).astimezone(UTC)


@pytest.fixture(autouse=True)
def database(tmp_path):
    open_database(f"sqlite:///{tmp_path}/t.db")
    for number, name, short in PARTIES:
        Party.create(number=number, name=name, short=short)
    yield
    close_database()


@pytest.fixture
def desk(tmp_path):
    """What import_csv needs: an archive, a clock at 08:00 WIB Friday, the zone."""

    class Deps:
        archive = Archive(tmp_path / "archive")
        clock = FrozenClock(wib(8, 0))

        def run(self, source, evidence=(), **kw):
            return import_csv(source, evidence_files=evidence, archive=self.archive, clock=self.clock, zone=ZONE,
                              actor="Rina Wulandari", **kw)

    return Deps()


def by_short() -> dict[str, ProgressSnapshot]:
    return {s.party.short: s for s in ProgressSnapshot.select()}


def nothing_stored(tmp_path: Path) -> bool:
    stored = ProgressImport.select().count() + ProgressSnapshot.select().count() + Evidence.select().count()
    files = [p for p in (tmp_path / "archive").rglob("*") if p.is_file()] if (tmp_path / "archive").exists() else []
    return stored == 0 and not files


# --- the good path -------------------------------------------------------------------------------


def test_example_file_semicolons_thousands_and_every_party_form(desk, tmp_path):
    imp = desk.run(DATA / "progress_example.csv")
    assert (imp.filename, imp.rows, imp.actor, imp.imported_at) == ("progress_example.csv", 5, "Rina Wulandari", wib(8))
    assert imp.sha256 == hashlib.sha256((DATA / "progress_example.csv").read_bytes()).hexdigest()
    assert desk.archive.read(imp.path) == (DATA / "progress_example.csv").read_bytes()
    s = by_short()
    assert (s["PKB"].officials, s["PKB"].members, s["PKB"].offices) == (45, 1234, 6)
    assert (s["PDI Perjuangan"].members, s["Golkar"].members) == (2890, 1870)  # short and full names
    assert s["NasDem"].members == 980  # ballot number 5
    assert s["PKB"].taken_at == wib(7, 45) and s["PDI Perjuangan"].taken_at == wib(7, 46)
    assert s["NasDem"].taken_at == wib(8, 0)  # no waktu: the import time
    assert all(x.imported_at == wib(8) for x in s.values())


def test_comma_file_with_bom_quoted_thousands_crlf_and_iso_times(desk):
    data = ("\ufeffPartai,Pengurus,Anggota,Kantor,Waktu,Keterangan\r\n"
            "pkb,45,\"1,234\",6,2026-11-27T07:45:00+07:00,ok\r\n"
            "\r\n"
            "Gerindra,\"1 050\",0,0,2026-11-27T00:30Z,\r\n").encode("utf-8")
    imp = desk.run(data)
    s = by_short()
    assert imp.rows == 2
    assert (s["PKB"].members, s["PKB"].taken_at) == (1234, wib(7, 45))
    assert (s["Gerindra"].officials, s["Gerindra"].taken_at) == (1050, wib(7, 30))


def test_text_source_and_indonesian_dates_and_aliases(desk):
    text = "PARTAI;PENGURUS;ANGGOTA;KANTOR;WAKTU\nPDIP;1;2;3;27/11/2026 07.40\nNo. 4;4;5;6;27-11-2026 7:41\n"
    desk.run(text, aliases={"PDIP": 3})
    s = by_short()
    assert s["PDI Perjuangan"].taken_at == wib(7, 40) and s["Golkar"].taken_at == wib(7, 41)


def test_evidence_is_archived_byte_exact_with_its_sha256(desk, tmp_path):
    shot = tmp_path / "dasbor-0745.png"
    shot.write_bytes(PNG)
    other = tmp_path / "dasbor-2.JPG"
    other.write_bytes(b"\xff\xd8jpeg")
    imp = desk.run(DATA / "progress_example.csv", evidence=[shot, other, shot])
    ev = list(Evidence.select().where(Evidence.import_ == imp).order_by(Evidence.id))
    assert [(e.filename, e.content_type, e.size) for e in ev] == [
        ("dasbor-0745.png", "image/png", len(PNG)), ("dasbor-2.JPG", "image/jpeg", 6)]  # the duplicate once
    assert ev[0].sha256 == hashlib.sha256(PNG).hexdigest()
    assert desk.archive.read(ev[0].path) == PNG and desk.archive.verify(ev[0].path, ev[0].sha256)
    assert ev[0].path.startswith("evidence/") and ev[0].path.endswith(".png")


def test_counts_parse_like_an_indonesian_spreadsheet():
    assert [parse_count(x) for x in ("0", "12", "1.234", "1,234", "1 234", "2.345.678", " 7 ")] == [
        0, 12, 1234, 1234, 1234, 2345678, 7]
    for bad in ("", "-3", "1.5", "12,34", "1.2345", "abc", "1.234,00"):
        with pytest.raises(ValueError):
            parse_count(bad)


# --- rejections: every bad row, with its line, and nothing stored ------------------------------


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_stored(desk, tmp_path):
    shot = tmp_path / "dasbor.png"
    shot.write_bytes(PNG)
    text = ("partai;pengurus;anggota;kantor;waktu\n"
            "PKB;45;1.234;6;2026-11-27 07:45\n"          # 2 ok
            "Partai Entah;1;2;3;\n"                       # 3 unknown party
            "Gerindra;10;1.5;2;\n"                        # 4 not an integer
            "Golkar;-1;;2;\n"                             # 5 negative and empty
            "pkb;1;2;3;\n"                                # 6 duplicate of line 2
            "NasDem;1;2;3;2026-11-27 09:30\n"             # 7 in the future (now is 08:00)
            "3;1;2;3;kemarin sore\n")                     # 8 bad time
    with pytest.raises(ImportRejected) as exc:
        desk.run(text, evidence=[shot])
    problems = exc.value.problems
    assert [p.split(":")[0] for p in problems] == ["baris 3", "baris 4", "baris 5", "baris 5", "baris 6", "baris 7",
                                                   "baris 8"]
    msg = str(exc.value)
    assert "tidak ada data yang disimpan" in msg
    assert "baris 3: partai 'Partai Entah' tidak dikenal" in msg
    assert "baris 4: kolom anggota: '1.5' bukan bilangan bulat" in msg
    assert "baris 5: kolom pengurus: '-1' negatif" in msg and "baris 5: kolom anggota kosong" in msg
    assert "baris 6: partai PKB sudah ada di baris 2" in msg
    assert "baris 7: kolom waktu: 2026-11-27 09:30 masih di masa depan" in msg
    assert "baris 8: kolom waktu:" in msg
    assert isinstance(exc.value, UserError)
    assert nothing_stored(tmp_path)


def test_missing_column_is_reported_on_the_header_line(desk, tmp_path):
    with pytest.raises(ImportRejected) as exc:
        desk.run("partai;pengurus;anggota\nPKB;1;2\n")
    assert exc.value.problems[0].startswith("baris 1: judul kolom wajib tidak ada: kantor")
    assert nothing_stored(tmp_path)


def test_header_may_follow_blank_lines_and_line_numbers_stay_physical(desk):
    with pytest.raises(ImportRejected) as exc:
        desk.run("\n\npartai;pengurus;anggota;kantor\n\nXYZ;1;2;3\n")
    assert exc.value.problems == [
        "baris 5: partai 'XYZ' tidak dikenal (gunakan singkatan, nama lengkap, atau nomor urut)"]


def test_unquoted_comma_thousands_in_a_comma_file_is_caught(desk, tmp_path):
    with pytest.raises(ImportRejected) as exc:
        desk.run("partai,pengurus,anggota,kantor\nPKB,45,1,234,6\n")
    assert exc.value.problems[0].startswith("baris 2: ada 5 kolom, sedangkan judul kolom hanya 4")
    assert nothing_stored(tmp_path)


def test_empty_file_and_header_only(desk, tmp_path):
    with pytest.raises(ImportRejected, match="baris 1: berkas CSV kosong"):
        desk.run(b"\xef\xbb\xbf\n")
    with pytest.raises(ImportRejected, match="baris 2: tidak ada baris data"):
        desk.run("partai;pengurus;anggota;kantor\n")
    assert nothing_stored(tmp_path)


def test_not_utf8_is_rejected_with_the_line(desk, tmp_path):
    data = "partai;pengurus;anggota;kantor\nPKB;1;2;3\n".encode() + "Golkar;1;2;3 ·\n".encode("cp1252")
    with pytest.raises(ImportRejected, match="baris 3: berkas bukan teks UTF-8"):
        desk.run(data)
    assert nothing_stored(tmp_path)


def test_missing_or_empty_evidence_rejects_the_whole_import(desk, tmp_path):
    empty = tmp_path / "kosong.png"
    empty.write_bytes(b"")
    with pytest.raises(ImportRejected) as exc:
        desk.run(DATA / "progress_example.csv", evidence=[tmp_path / "tidak-ada.png", empty])
    assert len(exc.value.problems) == 2
    assert "tidak-ada.png: tidak dapat dibaca" in str(exc.value) and "kosong.png: berkas kosong" in str(exc.value)
    assert nothing_stored(tmp_path)


def test_the_same_file_twice_is_rejected(desk):
    desk.run(DATA / "progress_example.csv")
    desk.clock.advance(minutes=5)
    with pytest.raises(ImportRejected) as exc:
        desk.run(DATA / "progress_example.csv")
    # rows with an explicit waktu collide; the last row (no waktu) would be a new reading
    assert [p.split(":")[0] for p in exc.value.problems] == ["baris 2", "baris 3", "baris 4", "baris 5"]
    assert "sudah diimpor (impor #1)" in exc.value.problems[0]
    assert ProgressImport.select().count() == 1


def test_unreadable_csv_path_is_a_user_error(desk, tmp_path):
    with pytest.raises(UserError, match="tidak dapat membaca"):
        desk.run(tmp_path / "tidak-ada.csv")


# --- reading back ----------------------------------------------------------------------------


def test_latest_and_previous_snapshots(desk):
    desk.clock.set(wib(8, 0))
    desk.run("partai;pengurus;anggota;kantor;waktu\nPKB;10;100;1;2026-11-27 07:45\nGolkar;5;50;1;2026-11-27 07:45\n")
    desk.clock.set(wib(17, 0))
    desk.run("partai;pengurus;anggota;kantor;waktu\nPKB;12;150;2;2026-11-27 16:45\n")
    desk.clock.set(wib(17, 30))
    # a late import of a morning reading does not replace the newer one
    desk.run("partai;pengurus;anggota;kantor;waktu\nPKB;11;120;1;2026-11-27 12:00\n")
    pkb = Party.get(Party.short == "PKB")
    assert latest_snapshots()[pkb.id].members == 150
    assert latest_snapshots(before=wib(12, 0))[pkb.id].members == 100  # known at noon
    assert set(latest_snapshots(before=wib(7, 0))) == set()
    assert previous_snapshot(pkb, wib(16, 45)).members == 120
    assert previous_snapshot(pkb, wib(16, 45), known_at=wib(17, 0)).members == 100
    assert previous_snapshot(pkb, wib(7, 45)) is None


# --- the command line -----------------------------------------------------------------------------


def test_cli_import_and_rejection(tmp_path, imap_user):
    from tests.desk import Desk

    cli = Desk(tmp_path / "desk", imap_user)
    shot = tmp_path / "dasbor.png"
    shot.write_bytes(PNG)
    r = cli.run("progress", "import", str(DATA / "progress_example.csv"), "--evidence", str(shot),
                "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    assert r.out.startswith("Impor progres #1 disimpan: 5 partai, 1 berkas bukti.\n")
    assert "NasDem" in r.out and "1.234" in r.out and hashlib.sha256(PNG).hexdigest() in r.out

    bad = tmp_path / "salah.csv"
    bad.write_text("partai;pengurus;anggota;kantor\nPKB;1;2;3\nPartai Entah;1;2;3\nGolkar;x;2;3\n", encoding="utf-8")
    r = cli.run("progress", "import", str(bad), "--as", "Rina Wulandari")
    assert r.code == 1
    assert "baris 3: partai 'Partai Entah' tidak dikenal" in r.err and "baris 4: kolom pengurus: 'x'" in r.err

    r = cli.run("progress", "import", str(DATA / "progress_example.csv"), "--as", "Rina Wulandari", "--json")
    assert r.code == 1 and "sudah diimpor" in r.err  # the same readings twice
    good = tmp_path / "sore.csv"
    good.write_text("partai,pengurus,anggota,kantor\nPKB,46,\"1,300\",6\n", encoding="utf-8-sig")
    out = cli.json("progress", "import", str(good), "--as", "Rina Wulandari")
    assert out["id"] == 2 and out["rows"] == 1 and out["evidence"] == []
    assert out["snapshots"][0] | {"taken_at": None} == {"party": "PKB", "number": 1, "officials": 46,
                                                        "members": 1300, "offices": 6, "taken_at": None}


def test_cli_evidence_is_typed_by_its_bytes(tmp_path, imap_user):
    """A program named like a screenshot is refused by the command line as by the desk
    (issue 15: type checked by content, not by name); nothing is stored."""
    from tests.desk import Desk

    cli = Desk(tmp_path / "desk", imap_user)
    fake = tmp_path / "dasbor.png"
    fake.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200)  # a Windows executable's header
    r = cli.run("progress", "import", str(DATA / "progress_example.csv"), "--evidence", str(fake),
                "--as", "Rina Wulandari")
    assert r.code == 1 and "dasbor.png" in r.err and "Traceback" not in r.err
    cli.app()  # the database, opened as a command opens it
    assert ProgressImport.select().count() == 0 and Evidence.select().count() == 0
