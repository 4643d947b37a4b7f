"""Walk-in and other-channel consultations, the guest book."""
from __future__ import annotations

import hashlib

import pytest

from tests.desk import Desk


@pytest.fixture
def desk(tmp_path, imap_user):
    return Desk(tmp_path / "desk", imap_user)


def test_walk_in_consultation_is_registered_with_identity_and_evidence(desk, tmp_path):
    photo = tmp_path / "foto-konsultasi.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 fake jpeg " * 100)
    t = desk.json("tickets", "new", "--channel", "tatap-muka", "--party", "PKB", "--name", "Hendra Gunawan",
                  "--phone", "0812 7777 8888", "--subject", "Verifikasi faktual", "--message",
                  "Kapan jadwal verifikasi faktual keanggotaan?", "--evidence", str(photo), "--as", "Rina Wulandari")
    assert t["channel"] == "tatap-muka" and t["party"] == "PKB" and t["status"] == "baru"
    shown = desk.json("tickets", "show", str(t["id"]))
    assert shown["identity"] == {"name": "Hendra Gunawan", "party": "Partai Kebangkitan Bangsa",
                                 "phone": "+6281277778888", "email": None,
                                 "sources": {"name": "petugas", "party": "petugas", "phone": "petugas", "email": None}}
    (att,) = shown["messages"][0]["attachments"]
    assert att["filename"] == "foto-konsultasi.jpg"
    assert att["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    book = desk.json("bukutamu")
    assert [(b["name"], b["phone"], b["party"]) for b in book] == [("Hendra Gunawan", "+6281277778888", "Partai Kebangkitan Bangsa")]
    assert desk.json("bukutamu", "--date", "2001-01-01") == []
    assert [x["id"] for x in desk.json("tickets", "list", "--channel", "tatap-muka")] == [t["id"]]


def test_chat_consultation_is_in_the_register_but_not_the_guest_book(desk):
    desk.json("tickets", "new", "--channel", "pesan-online", "--party", "3", "--name", "Dewi",
              "--subject", "Akun Sipol", "--message", "Lupa kata sandi Sipol", "--as", "Rina Wulandari")
    (t,) = desk.json("tickets", "list")
    assert t["party"] == "PDI Perjuangan" and t["channel"] == "pesan-online"
    assert desk.json("bukutamu") == []


@pytest.mark.parametrize("args, needle", [
    (["--party", "Partai Antah Berantah"], "partai tidak dikenal"),
    (["--party", "PKB", "--phone", "12"], "nomor telepon tidak valid"),
    (["--party", "PKB", "--evidence", "/nonexistent/file.jpg"], "tidak dapat membaca"),
])
def test_bad_walk_in_input_is_refused_clearly_and_nothing_is_stored(desk, args, needle):
    r = desk.run("tickets", "new", "--channel", "tatap-muka", "--name", "X", "--subject", "S", "--message", "M",
                 "--as", "Rina Wulandari", *args)
    assert r.code == 1 and needle in r.err
    assert desk.json("tickets", "list") == []


def test_an_answer_to_a_walk_in_without_email_is_refused_clearly(desk):
    t = desk.json("tickets", "new", "--channel", "tatap-muka", "--party", "PKB", "--name", "Hendra",
                  "--subject", "Tanya", "--message", "Tanya langsung", "--as", "Rina Wulandari")
    r = desk.run("tickets", "reply", str(t["id"]), "--message", "Jawaban", "--as", "Rina Wulandari")
    assert r.code == 1 and "tidak punya alamat surel" in r.err
    assert desk.json("tickets", "show", str(t["id"]))["status"] == "baru"
