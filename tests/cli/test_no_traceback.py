"""No user input produces a traceback (issue 12 item 8): every command, given wrong ids,
unknown names, empty values and wrong types, answers with one Bahasa Indonesia line and
the documented exit code (1: the user must fix the input; 2: the command line is wrong)."""
from __future__ import annotations

import pytest

from tests.officer_desk import RINA, new_ticket, offline_desk

R = ("--as", RINA)
CASES = [
    # wrong or unknown ids
    (["tickets", "show", "999"], 1, "tidak ditemukan"),
    (["tickets", "show", "abc"], 2, "nomor tiket tidak valid"),
    (["tickets", "show", ""], 2, "nomor tiket tidak valid"),
    (["tickets", "show", "HD-LPG #1"], 1, "bukan label helpdesk ini"),
    (["tickets", "note", "999", "--message", "x", *R], 1, "tidak ditemukan"),
    (["tickets", "close", "#999", *R], 1, "tidak ditemukan"),
    (["tickets", "reopen", "[HD-MSJ #999]", *R], 1, "tidak ditemukan"),
    (["tickets", "escalate", "999", "--to", "anggota", *R], 1, "tidak ditemukan"),
    (["tickets", "attachment", "1", "5", "--output", "x"], 1, "tidak punya lampiran"),
    (["tickets", "attachment", "1", "0", "--output", "x"], 2, "nomor lampiran"),
    (["tickets", "attachment", "1", "satu", "--output", "x"], 2, "nomor lampiran"),
    (["laporan", "999"], 1, "tidak ditemukan"),
    (["quarantine", "retry", "999"], 1, "tidak ada"),
    (["quarantine", "retry", "abc"], 2, "bukan bilangan bulat"),
    (["spam", "release", "999", *R], 1, "tidak ada"),
    (["spam", "release", "x1"], 2, "bukan bilangan bulat"),
    # unknown names
    (["tickets", "reply", "1", "--faq", "syarat-999", "--message", "x", *R], 1, "entri FAQ tidak dikenal"),
    (["faq", "show", "syarat-999"], 1, "entri FAQ tidak dikenal"),
    (["tickets", "reply", "1", "--message", "x", "--as", "Siapa Saja"], 1, "petugas tidak dikenal"),
    (["tickets", "assign", "1", "Siapa Saja"], 1, "petugas tidak dikenal"),
    (["tickets", "list", "--party", "Partai Antah Berantah"], 1, "partai tidak dikenal"),
    (["tickets", "new", "--channel", "tatap-muka", "--party", "XYZ", "--name", "A", "--subject", "S",
      "--message", "M", *R], 1, "partai tidak dikenal"),
    (["tickets", "escalate", "1", "--to", "presiden", *R], 2, "pilihan tidak valid"),
    (["tickets", "list", "--status", "terbuka"], 2, "pilihan tidak valid"),
    (["tiket", "list"], 2, "pilihan tidak valid"),
    # empty values
    (["tickets", "reply", "1", "--message", "", *R], 1, "jawaban kosong"),
    (["tickets", "note", "1", "--message", " ", *R], 1, "catatan kosong"),
    (["tickets", "list", "--party", ""], 1, "nama partai kosong"),
    (["faq", "search", ""], 1, "pertanyaan kosong"),
    (["tickets", "reply", "1", "--faq", "", "--message", "x", *R], 1, "entri FAQ tidak dikenal"),
    (["tickets", "show"], 2, "argumen wajib belum diberikan"),
    # wrong types and files
    (["faq", "search", "sipol", "--limit", "lima"], 2, "bukan bilangan bulat"),
    (["bukutamu", "--date", "2026-13-01"], 1, "tanggal tidak valid"),
    (["report", "recap", "--date", "kemarin"], 2, "tanggal tidak valid"),
    (["tickets", "reply", "1", "--file", "/tidak/ada.txt", *R], 1, "tidak dapat membaca"),
    (["tickets", "reply", "1", "--message", "x", "--attach", "/tidak/ada.pdf", *R], 1, "tidak dapat dibaca"),
    (["laporan", "1", "--html", "/tidak/ada/laporan.html"], 1, "tidak dapat menulis"),
    (["tickets", "reply", "1", "--message", "x", "--file", "y", *R], 2, "tidak boleh dipakai bersama"),
]


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    d = offline_desk(tmp_path_factory.mktemp("notrace") / "desk")
    new_ticket(d)
    return d


@pytest.mark.parametrize("args, code, needle", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_is_one_indonesian_line_and_the_documented_code(desk, args, code, needle):
    r = desk.run(*args)
    assert "Traceback" not in r.err + r.out
    assert r.code == code, r.err
    # a usage error prints the usage first; what went wrong is the one line after it
    lines = [ln for ln in r.err.splitlines() if ln.startswith("kpudesk:")]
    assert len(lines) == 1, r.err
    assert needle in lines[0]
    assert not any(word in lines[0] for word in ("error", "invalid", "required", "unknown", "argument "))
