"""Never lose, never duplicate: SIGKILL mid-batch, UIDVALIDITY changes, concurrent polls."""
from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest

from tests.corpus.hostile import party_mail
from tests.desk import Desk
from tests.servers.common import live_processes


@pytest.fixture
def desk(tmp_path, imap_user):
    # A bulk import, with the analysis workers it opts into (imap.workers, default 0).
    d = Desk(tmp_path / "desk", imap_user)
    text = d.settings_path.read_text(encoding="utf-8")
    d.settings_path.write_text(text.replace("batch_size = 50", "batch_size = 50\nworkers = 2", 1), encoding="utf-8")
    return d


def load(imap_user, n, start=0, folder="INBOX"):
    raws = [party_mail(f"lo{i}@party{i % 17}.example.org", f"Pertanyaan nomor {i}", f"Isi pertanyaan {i}",
                       message_id=f"<q{i}@party.example.org>") for i in range(start, start + n)]
    imap_user.append_many(folder, raws)
    return raws


def db_rows(desk, sql):
    con = sqlite3.connect(f"file:{desk.root / 'state' / 'kpudesk.db'}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_large_batch_loses_and_duplicates_nothing(desk, imap_user):
    n = 1500
    load(imap_user, n)
    desk.json("tickets", "list")  # creates the database so we can watch it
    proc = desk.spawn("poll")
    deadline = time.monotonic() + 120
    progressed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        rows = db_rows(desk, "select last_uid from folder_state where name='INBOX'")
        progressed = rows[0][0] if rows else 0
        if progressed >= 100:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the poll finished before it could be killed; raise n"
    workers = [pid for pid, ppid, _ in live_processes() if ppid == proc.pid]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < progressed < n
    # Its analysis workers do not outlive it (nobody would ever stop them).
    assert workers, "the poll had no analysis workers to kill"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(pid for pid, _, _ in live_processes() if pid in workers):
        time.sleep(0.05)
    assert not [pid for pid, _, _ in live_processes() if pid in workers]
    after_kill = db_rows(desk, "select count(*) from message where direction='in'")[0][0]
    assert after_kill < n

    stats = desk.json("poll")
    assert stats["duplicates"] == 0  # the uncommitted tail was simply read again
    per_id = db_rows(desk, "select msgid, count(*) from message where direction='in' group by msgid")
    assert len(per_id) == n and all(c == 1 for _m, c in per_id)
    assert db_rows(desk, "select count(*) from ticket")[0][0] == n
    # ...and exactly one acknowledgement queued per ticket, none for the re-read part.
    assert db_rows(desk, "select count(*), count(distinct ticket_id) from outbox_item where kind='ack'")[0] == (n, n)
    assert db_rows(desk, "select last_uid from folder_state where name='INBOX'")[0][0] == n
    assert desk.json("poll")["fetched"] == 0


def test_uidvalidity_change_rereads_without_duplicates(desk, imap_user):
    load(imap_user, 5)
    assert desk.json("poll")["tickets_created"] == 5
    old = imap_user.uidvalidity("INBOX")
    new = imap_user.reset_uidvalidity("INBOX")
    assert new != old
    load(imap_user, 2, start=5)  # new mail arrives too
    stats = desk.json("poll")
    assert stats["folders"]["INBOX"]["uidvalidity"] == new
    assert stats["fetched"] == 7 and stats["duplicates"] == 5 and stats["tickets_created"] == 2
    assert len(desk.json("tickets", "list")) == 7


def test_a_poll_while_another_holds_the_lock_exits_75_with_a_clear_message(desk, imap_user):
    from kpudesk.daemon.lock import FileLock

    load(imap_user, 3)
    desk.json("tickets", "list")
    with FileLock(desk.root / "state" / "poll.lock", "poll"):
        r = desk.run("poll")
        assert r.code == 75
        assert "sedang berjalan" in r.err
        assert db_rows(desk, "select count(*) from ticket")[0][0] == 0
    assert desk.json("poll")["tickets_created"] == 3


def test_a_child_that_outlives_the_poll_does_not_keep_its_lock(tmp_path):
    """A forked analysis worker shares the lock's open file; if it kept it, a killed
    poll's lingering worker would make the next poll exit 75."""
    import subprocess
    import sys

    from kpudesk.daemon.lock import FileLock, LockBusy

    path = tmp_path / "poll.lock"
    script = (
        "import os, sys, time\n"
        "from kpudesk.daemon.lock import FileLock\n"
        f"FileLock(__import__('pathlib').Path({str(path)!r}), 'poll').acquire()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    null = os.open(os.devnull, os.O_RDWR)\n"
        "    os.dup2(null, 1); os.dup2(null, 2)  # let the caller read to the end\n"
        "    time.sleep(60); os._exit(0)\n"
        "print(child, flush=True)\n"
        "os._exit(0)  # dies holding the lock, as a SIGKILLed poll does\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    child = int(out.stdout)
    try:
        assert child in [pid for pid, _, _ in live_processes()]  # the child still runs...
        with FileLock(path, "poll"):  # ...and the lock is free all the same
            pass
    except LockBusy:
        pytest.fail("the forked child kept the poll lock")
    finally:
        os.kill(child, signal.SIGKILL)


def test_two_polls_racing_store_everything_once(desk, imap_user):
    load(imap_user, 800)
    desk.json("tickets", "list")
    procs = [desk.spawn("poll") for _ in range(2)]
    codes = []
    for p in procs:
        p.communicate(timeout=180)
        codes.append(p.returncode)
    assert sorted(codes) in ([0, 0], [0, 75])
    assert db_rows(desk, "select count(*) from ticket")[0][0] == 800
    assert db_rows(desk, "select count(distinct msgid), count(*) from message where direction='in'")[0] == (800, 800)
    assert db_rows(desk, "select count(*), count(distinct ticket_id) from outbox_item where kind='ack'")[0] == (800, 800)
