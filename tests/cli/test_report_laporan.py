"""`kpudesk report laporan`: the period's Laporan Hasil Konsultasi from the CLI, with the
web desk's renderers (html, pdf, csv, xlsx), to a file or to stdout, the PDF filed; bad
input exits 1, a binary format refuses a terminal with exit 2."""
from __future__ import annotations

import csv
import io
import os
import pty
import subprocess

import pytest

from kpudesk.tickets.models import Identity, MirrorItem, Ticket
from tests.desk import Desk
from tests.frozen_kpudesk import command, freeze

pypdf = pytest.importorskip("pypdf", reason="pypdf reads the PDF's text back (pip install pypdf)")
openpyxl = pytest.importorskip("openpyxl")

WHEN = "2026-12-01T10:00:00+07:00"


@pytest.fixture
def desk(tmp_path, imap_user, monkeypatch):
    freeze(monkeypatch, WHEN)
    d = Desk(tmp_path / "desk", imap_user)
    for party, name, channel in (("PKB", "Hendra Gunawan", "tatap-muka"), ("PDIP", "Lia Anggraini", "pesan-online"),
                                 ("3", "Rudi Hartono", "tatap-muka")):
        r = d.run("tickets", "new", "--channel", channel, "--party", party, "--name", name, "--phone", "0812 7777 8888",
                  "--subject", f"Pertanyaan {name}", "--message", "Kapan verifikasi faktual?", "--as", "Rina Wulandari")
        assert r.code == 0, r.err
    return d


def spawn(desk: Desk, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """The CLI as its own process at WHEN (stdout a pipe unless given)."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(command(WHEN, "--config", str(desk.settings_path), *args), env={**os.environ, **desk.env},
                          stderr=subprocess.PIPE, timeout=120, **kwargs)


def test_csv_to_a_file_matches_the_database(desk, tmp_path):
    out = tmp_path / "laporan.csv"
    r = desk.run("report", "laporan", "--from", "2026-12-01", "--to", "2026-12-01", "--format", "csv",
                 "--output", str(out))
    assert r.code == 0 and f"ditulis ke {out}" in r.out
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    desk.app()  # this process's connection to the desk's database
    tickets = list(Ticket.select().order_by(Ticket.id))
    assert [row["Nomor tiket"] for row in rows] == [f"HD-MSJ #{t.id}" for t in tickets]
    for row, t in zip(rows, tickets):
        ident = Identity.get(Identity.ticket == t)
        assert (row["Nama"], row["Partai"], row["Telepon"]) == (ident.name, ident.party, ident.phone)
        assert row["Diterima"] == "2026-12-01 10:00"
    assert MirrorItem.select().count() == 0  # only a PDF is filed


def test_filters_and_the_default_html_to_stdout(desk):
    r = desk.run("report", "laporan", "--party", "PDI-P")
    assert r.code == 0 and r.out.startswith("<!DOCTYPE html>")
    assert "Lia Anggraini" in r.out and "Hendra Gunawan" not in r.out
    assert "@page" in r.out and "KABUPATEN MESUJI" in r.out and "Koordinator Harian" in r.out  # self-contained print view
    r = desk.run("report", "laporan", "--channel", "tatap-muka", "--format", "csv")
    names = [row["Nama"] for row in csv.DictReader(io.StringIO(r.out.lstrip("\ufeff")), delimiter=";")]
    assert r.code == 0 and names == ["Hendra Gunawan", "Rudi Hartono"]


def test_pdf_to_a_file_is_filed_and_carries_every_ticket(desk, tmp_path):
    out = tmp_path / "laporan.pdf"
    r = desk.run("report", "laporan", "--format", "pdf", "--output", str(out), "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    reader = pypdf.PdfReader(out)
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    desk.app()
    for t in Ticket.select():
        assert f"HD-MSJ #{t.id}" in text
    assert "Partai Kebangkitan Bangsa" in text and "1 Desember 2026 10.00 WIB" in text
    assert f"Halaman 1 dari {len(reader.pages)}" in text
    (item,) = MirrorItem.select()
    assert item.remote_path == "2026/12/laporan/laporan-2026-12-01.pdf" and item.remote_path in r.err
    assert desk.app().archive.read(item.path) == out.read_bytes()


def test_xlsx_to_a_file_reads_back(desk, tmp_path):
    out = tmp_path / "laporan.xlsx"
    assert desk.run("report", "laporan", "--format", "xlsx", "--output", str(out)).code == 0
    values = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert values[0][1] == "Nomor tiket" and [v[4] for v in values[1:]] == ["Hendra Gunawan", "Lia Anggraini",
                                                                             "Rudi Hartono"]


def test_a_pdf_goes_to_a_pipe_but_never_to_a_terminal(desk):
    piped = spawn(desk, "report", "laporan", "--format", "pdf")
    assert piped.returncode == 0, piped.stderr.decode()
    assert piped.stdout.startswith(b"%PDF-")
    main, side = pty.openpty()
    try:
        on_tty = spawn(desk, "report", "laporan", "--format", "xlsx", stdout=side)
    finally:
        os.close(side)
        os.close(main)
    assert on_tty.returncode == 2
    assert "--output" in on_tty.stderr.decode() and "terminal" in on_tty.stderr.decode()
    desk.app()
    assert MirrorItem.select().count() == 1  # the piped PDF only: the refused one was never made


@pytest.mark.parametrize("args, code, needle", [
    (["--from", "2026-13-01"], 1, "tanggal dari tidak valid"),
    (["--from", "2026-12-05", "--to", "2026-12-01"], 1, "sesudah tanggal akhir"),
    (["--party", "Partai Antah Berantah"], 1, "partai"),
    (["--channel", "telepon"], 1, "kanal tidak dikenal"),
    (["--format", "docx"], 2, "pilihan tidak valid"),
    (["--format", "csv", "--output", "/nonexistent/folder/laporan.csv"], 1, "tidak dapat menulis"),
])
def test_bad_input_exits_with_a_clear_message(desk, args, code, needle):
    r = desk.run("report", "laporan", *args)
    assert r.code == code and needle in r.err and "Traceback" not in r.err
