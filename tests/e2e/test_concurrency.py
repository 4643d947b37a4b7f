"""Issue 11 item 5: officers' commands while another process holds the database's write lock.

The daemon's poll writes in a transaction; an officer's `tickets note` must wait for it and
then succeed, or — when the lock outlives the busy timeout (10 s) — exit 75 with one line in
Bahasa Indonesia, never a traceback. Reading commands (`tickets list`) do not wait at all:
opening the database takes no write lock when the schema is current.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time

import pytest

from tests.desk import Desk

HOLD = textwrap.dedent("""
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("BEGIN IMMEDIATE")  # what a poll's ingest transaction holds
    con.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.execute("COMMIT")
""")


@contextlib.contextmanager
def write_lock_held(desk: Desk, seconds: float):
    """Another process holding SQLite's write lock for `seconds` (a slow poll)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(desk.root / "state" / "kpudesk.db"), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def desk(tmp_path, imap_user):
    d = Desk(tmp_path / "desk", imap_user)
    d.ticket = d.json("tickets", "new", "--channel", "tatap-muka", "--party", "PKB", "--name", "Hendra",
                      "--subject", "Tanya", "--message", "Kapan verifikasi?", "--as", "Rina Wulandari")["id"]
    return d


def test_tickets_list_does_not_wait_for_a_writer(desk):
    with write_lock_held(desk, 30):
        started = time.monotonic()
        rows = desk.json("tickets", "list")
        shown = desk.json("tickets", "show", str(desk.ticket))
        took = time.monotonic() - started
    assert [r["id"] for r in rows] == [desk.ticket] and shown["id"] == desk.ticket
    assert took < 5  # WAL readers never wait; the busy timeout is 10 s


def test_a_note_during_a_short_write_waits_and_succeeds(desk):
    with write_lock_held(desk, 2):
        r = desk.run("tickets", "note", str(desk.ticket), "--message", "Sudah ditelepon.", "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    notes = [m for m in desk.json("tickets", "show", str(desk.ticket))["messages"] if m["direction"] == "note"]
    assert [n["text"] for n in notes] == ["Sudah ditelepon."]


@pytest.mark.slow
def test_a_note_while_the_lock_outlives_the_busy_timeout_exits_75_with_one_clear_line(desk):
    """A separate process, as an officer runs it: exit 75, one line, no traceback."""
    with write_lock_held(desk, 25):
        proc = desk.spawn("tickets", "note", str(desk.ticket), "--message", "Sudah ditelepon.", "--as", "Rina Wulandari")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 75, err
    lines = err.decode().strip().splitlines()
    assert lines == ["kpudesk: basis data sedang dikunci proses lain (mis. daemon yang sedang mengambil surel); "
                     "perintah ini tidak selesai, coba lagi sebentar lagi"]
    assert "Traceback" not in err.decode()
    notes = [m for m in desk.json("tickets", "show", str(desk.ticket))["messages"] if m["direction"] == "note"]
    assert notes == []  # and nothing half-written
