"""`kpudesk officers passwd | list | logout` (issue 14 item 2): passwords set from a terminal
or a pipe, stored as Argon2id hashes only, never echoed; the list says who has one."""
from __future__ import annotations

import getpass
import io
import subprocess
import sys

import pytest

from kpudesk.tickets import accounts
from kpudesk.tickets.models import Event, OfficerLogin
from kpudesk.tickets.schema import close_database
from tests.officer_desk import offline_desk

RINA = "rina@kpu-mesuji.example.org"
AHMAD = "ahmad@kpu-mesuji.example.org"
SECRET = "kata-sandi-rina-2026"


@pytest.fixture
def desk(tmp_path):
    return offline_desk(tmp_path / "desk")


def piped(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def stored(desk, email: str) -> OfficerLogin | None:
    desk.app()  # opens the desk's database in this process
    try:
        return OfficerLogin.get_or_none(OfficerLogin.email == email)
    finally:
        close_database()


def password_works(desk, email: str, password: str) -> bool:
    desk.app()
    try:
        return accounts.verify_password(email, password)
    finally:
        close_database()


def test_passwd_from_a_pipe_stores_an_argon2id_hash_and_never_the_password(desk, monkeypatch):
    piped(monkeypatch, SECRET + "\n")
    r = desk.run("officers", "passwd", RINA)
    assert r.code == 0, r.err
    assert SECRET not in r.out + r.err
    row = stored(desk, RINA)
    assert row.password_hash.startswith("$argon2id$") and SECRET not in row.password_hash
    assert password_works(desk, RINA, SECRET)
    assert not password_works(desk, RINA, SECRET + "x")
    desk.app()
    events = list(Event.select().where(Event.kind == "officer.password_set"))
    close_database()
    assert len(events) == 1 and events[0].actor.startswith("via CLI by ")
    assert SECRET not in str(events[0].detail)


def test_passwd_in_a_real_process_reads_one_line_of_stdin(desk):
    proc = desk.spawn("officers", "passwd", AHMAD, stdin=subprocess.PIPE)
    out, err = proc.communicate(input=(SECRET + "\nsecond line ignored\n").encode(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert SECRET.encode() not in out + err
    assert password_works(desk, AHMAD, SECRET)


def test_passwd_on_a_terminal_asks_twice_and_refuses_a_mismatch(desk, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter([SECRET, SECRET + "-beda"])
    prompts = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": prompts.append(prompt) or next(answers))
    r = desk.run("officers", "passwd", RINA)
    assert r.code == 1 and "tidak sama" in r.err
    assert len(prompts) == 2
    assert stored(desk, RINA) is None

    answers = iter([SECRET, SECRET])
    assert desk.run("officers", "passwd", RINA).code == 0
    assert password_works(desk, RINA, SECRET)


@pytest.mark.parametrize("given", ["pendek", "", "  spasi-di-depan-1"])
def test_passwd_refuses_a_short_or_odd_password(desk, monkeypatch, given):
    piped(monkeypatch, given + "\n")
    r = desk.run("officers", "passwd", RINA)
    assert r.code == 1 and "Traceback" not in r.err and "kata sandi" in r.err
    assert stored(desk, RINA) is None


def test_passwd_for_someone_not_in_officers_is_refused(desk, monkeypatch):
    piped(monkeypatch, SECRET + "\n")
    r = desk.run("officers", "passwd", "orang.lain@example.org")
    assert r.code == 1 and "[[officers]]" in r.err and "Traceback" not in r.err
    assert stored(desk, "orang.lain@example.org") is None


def test_passwd_email_is_case_insensitive(desk, monkeypatch):
    piped(monkeypatch, SECRET + "\n")
    assert desk.run("officers", "passwd", RINA.upper()).code == 0
    assert password_works(desk, RINA, SECRET)


def test_a_new_password_and_logout_end_the_sessions(desk, monkeypatch):
    piped(monkeypatch, SECRET + "\n")
    desk.run("officers", "passwd", RINA)
    first = stored(desk, RINA).session_epoch
    piped(monkeypatch, SECRET + "-baru\n")
    desk.run("officers", "passwd", RINA)
    second = stored(desk, RINA).session_epoch
    r = desk.run("officers", "logout", RINA)
    assert r.code == 0, r.err
    row = stored(desk, RINA)
    assert first < second < row.session_epoch
    assert password_works(desk, RINA, SECRET + "-baru")  # logout keeps the password


def test_list_json_says_who_has_a_password(desk, monkeypatch):
    assert desk.json("officers", "list") == [
        {"name": "Rina Wulandari", "email": RINA, "role": "anggota-helpdesk", "has_password": False},
        {"name": "Ahmad Fauzi", "email": AHMAD, "role": "anggota-kpu", "has_password": False},
    ]
    piped(monkeypatch, SECRET + "\n")
    desk.run("officers", "passwd", AHMAD)
    listed = {o["email"]: o["has_password"] for o in desk.json("officers", "list")}
    assert listed == {RINA: False, AHMAD: True}
    text = desk.run("officers", "list")
    assert text.code == 0 and "Ahmad Fauzi" in text.out and "sudah" in text.out and "belum" in text.out
