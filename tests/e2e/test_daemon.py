"""The daemon's schedule, driven by an injected clock; catch-up; races; signals; outages."""
from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kpudesk.daemon.runner import Runner
from kpudesk.tickets.clock import FrozenClock
from tests.corpus.hostile import party_mail
from tests.desk import Desk

WIB = ZoneInfo("Asia/Jakarta")
REPORTS = """
[escalation]
anggota = ["anggota@kpu-mesuji.example.org"]

[reports]
progress_to = ["anggota@kpu-mesuji.example.org"]
recap_to = ["ketua@kpu-mesuji.example.org", "sekretaris@kpu-mesuji.example.org"]
"""


@pytest.fixture
def desk(tmp_path, imap_user, smtp_server):
    return Desk(tmp_path / "desk", imap_user, smtp=smtp_server, extra=REPORTS)


def local(hhmm: str, day: int = 27) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, h, m, tzinfo=WIB)


def drive(runner: Runner, clock: FrozenClock, until: datetime, step=timedelta(minutes=1)) -> list[tuple[str, str]]:
    """Tick minute by minute; returns (local HH:MM, job) for every job that ran."""
    log = []
    while clock.now() < until:
        for job in runner.tick():
            log.append((clock.now().astimezone(WIB).strftime("%H:%M"), job))
        clock.advance(seconds=step.total_seconds())
    return log


def schedule_of_a_day(desk, tz: str, monkeypatch) -> list[tuple[str, str]]:
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        clock = FrozenClock(local("00:30"))
        runner = Runner(desk.app(clock=clock))
        return [e for e in drive(runner, clock, local("00:01", day=28)) if e[1] != "send"]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_whole_day_runs_the_sop_schedule_whatever_the_host_tz(tmp_path, imap_user, smtp_server, monkeypatch):
    runs = {}
    for tz in ("UTC", "Asia/Jakarta", "America/New_York"):
        d = Desk(tmp_path / tz.replace("/", "_"), imap_user, smtp=smtp_server, extra=REPORTS)
        runs[tz] = schedule_of_a_day(d, tz, monkeypatch)
    assert runs["UTC"] == runs["Asia/Jakarta"] == runs["America/New_York"]
    log = runs["UTC"]
    polls = [t for t, job in log if job == "poll"]
    # At start, then every hour on the hour (local time): the 17:00 poll precedes the recap.
    assert polls == ["00:30"] + [f"{h:02d}:00" for h in range(1, 24)] + ["00:00"]
    reports = [(t, job) for t, job in log if job != "poll"]
    assert reports == [("08:00", "progress:08:00"), ("17:00", "progress:17:00"), ("17:01", "followup:17:01"),
                       ("17:05", "recap:17:05")]


def test_the_scheduled_reports_are_queued_and_sent(desk, smtp_server):
    clock = FrozenClock(local("16:58"))
    runner = Runner(desk.app(clock=clock))
    drive(runner, clock, local("17:07"))
    subjects = sorted(m.message["Subject"] for m in smtp_server.messages)
    assert len(subjects) == 2
    assert any("Laporan Progres" in s for s in subjects) and any("Rekap" in s for s in subjects)
    recap = next(m for m in smtp_server.messages if "Rekap" in m.message["Subject"])
    assert sorted(recap.rcpt_tos) == ["ketua@kpu-mesuji.example.org", "sekretaris@kpu-mesuji.example.org"]
    assert recap.message["Auto-Submitted"] == "auto-generated"


def test_a_slot_missed_while_down_is_sent_once_late_and_never_twice(desk, smtp_server):
    clock = FrozenClock(local("07:00"))
    Runner(desk.app(clock=clock)).tick()  # the daemon ran at 07:00, then went down
    clock.set(local("09:30"))
    first = Runner(desk.app(clock=clock)).tick()
    assert "progress:08:00 late" in first
    assert "progress:08:00 late" not in Runner(desk.app(clock=clock)).tick()  # a restart sends nothing again
    progress = [m for m in smtp_server.messages if "Laporan Progres" in m.message["Subject"]]
    assert len(progress) == 1 and "terlambat" in progress[0].message["Subject"]


def test_two_daemons_racing_send_each_slot_once(desk, smtp_server):
    clock = FrozenClock(local("08:00"))
    runners = [Runner(desk.app(clock=clock)) for _ in range(2)]
    barrier = threading.Barrier(2)
    results = []

    def go(r):
        barrier.wait()
        results.append(r.tick())

    threads = [threading.Thread(target=go, args=(r,)) for r in runners]
    [t.start() for t in threads]
    [t.join() for t in threads]
    claimed = [j for res in results for j in res if j.startswith("progress")]
    assert claimed == ["progress:08:00"]
    con = sqlite3.connect(desk.root / "state" / "kpudesk.db")
    assert con.execute("select count(*) from report_slot where kind='progress'").fetchone()[0] == 1
    assert con.execute("select count(*) from outbox_item where kind='report'").fetchone()[0] == 1


def test_the_daemon_indexes_the_polled_mail_after_sending_its_acknowledgements(desk, imap_user, smtp_server):
    """Ingest only notes its tickets as due for the search index (tickets/search.py); the
    tick that polled them indexes them after the send, so a search reads no backlog."""
    imap_user.append_many("INBOX", [party_mail(f"lo{i}@pkb.example.org", f"Verifikasi {i}", f"Dokumen rekapitulasi {i}")
                                    for i in range(3)])
    clock = FrozenClock(local("10:00"))
    runner = Runner(desk.app(clock=clock))
    assert runner.tick() == ["poll", "send", "index"]
    assert len(smtp_server.messages) == 3  # the acknowledgements went first
    con = sqlite3.connect(desk.root / "state" / "kpudesk.db")
    assert con.execute("select count(*) from search_pending").fetchone()[0] == 0
    assert con.execute("select count(*) from ticket_fts where ticket_fts match 'rekapitulasi'").fetchone()[0] == 3
    clock.advance(minutes=1)
    assert "index" not in runner.tick()  # nothing due: no write


def test_the_index_job_waits_for_a_busy_database_without_a_traceback(desk, imap_user, caplog):
    from kpudesk.tickets.models import db  # noqa: PLC0415 - lazy: this test only

    caplog.set_level("INFO", logger="kpudesk")
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Verifikasi", "Dokumen rekapitulasi"))
    clock = FrozenClock(local("10:00"))
    runner = Runner(desk.app(clock=clock))
    runner._guard("poll", runner._poll, clock.now())
    db.obj.execute_sql("PRAGMA busy_timeout = 200")
    other = sqlite3.connect(desk.root / "state" / "kpudesk.db")
    other.execute("BEGIN IMMEDIATE")  # e.g. an officer's command writing
    try:
        assert runner._guard("index", runner._index) is False
        assert "the database is busy" in caplog.text and "Traceback" not in caplog.text
    finally:
        other.rollback()
        other.close()
    assert runner._guard("index", runner._index) is True  # the next tick
    con = sqlite3.connect(desk.root / "state" / "kpudesk.db")
    assert con.execute("select count(*) from search_pending").fetchone()[0] == 0


def test_imap_down_then_up_the_daemon_keeps_going(tmp_path, imap_user, smtp_server):
    from tests.servers.proxy import Proxy
    proxy = Proxy(imap_user.host, imap_user.port)
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server, extra=REPORTS, imap_port=proxy.port)
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "isi"))
    clock = FrozenClock(local("10:00"))
    runner = Runner(desk.app(clock=clock))
    assert "poll" not in runner.tick()  # proxy not started: the server is down
    clock.advance(seconds=30)
    assert "poll" not in runner.tick()  # backing off, not hammering
    proxy.start()
    try:
        clock.advance(minutes=1)
        assert "poll" in runner.tick()
        assert len(desk.json("tickets", "list")) == 1
    finally:
        proxy.stop()


@pytest.mark.slow
def test_sigterm_in_the_middle_of_a_poll_stops_cleanly_and_loses_nothing(desk, imap_user):
    n = 1500
    imap_user.append_many("INBOX", [party_mail(f"lo{i}@p{i % 9}.example.org", f"Tanya {i}", "isi",
                                               message_id=f"<s{i}@p.example.org>") for i in range(n)])
    desk.json("tickets", "list")
    proc = desk.spawn("run")
    db = desk.root / "state" / "kpudesk.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        row = con.execute("select last_uid from folder_state where name='INBOX'").fetchone()
        con.close()
        if row and row[0] >= 100:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert b"stopped" in err
    con = sqlite3.connect(db)
    stored = con.execute("select count(*) from message where direction='in'").fetchone()[0]
    last_uid = con.execute("select last_uid from folder_state where name='INBOX'").fetchone()[0]
    con.close()
    assert stored == last_uid < n  # the mark describes exactly what was stored
    stats = desk.json("poll")
    assert stats["duplicates"] == 0 and stats["fetched"] == n - stored


def test_the_daemon_tells_systemd_it_is_ready_and_stopping(desk, tmp_path):
    import socket as sk
    path = str(tmp_path / "notify.sock")
    server = sk.socket(sk.AF_UNIX, sk.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(30)
    try:
        proc = desk.spawn("run", env={**os.environ, **desk.env, "NOTIFY_SOCKET": path})
        assert server.recv(100) == b"READY=1"
        proc.send_signal(signal.SIGTERM)
        assert server.recv(100) == b"STOPPING=1"
        assert proc.wait(timeout=30) == 0
    finally:
        server.close()


def test_a_second_daemon_on_the_same_mailbox_exits_75(desk):
    from kpudesk.daemon.lock import FileLock
    with FileLock(desk.root / "state" / "daemon.lock", "daemon"):
        proc = desk.spawn("run")
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 75 and "daemon" in err.decode()
