"""Issue 11 items 5 and 6: outbox leases name their holder; a mark refused by a locked
database neither stops the batch nor sends an accepted mail again.

Lease rules (tickets/outbox.py): a lease whose holder ran on this host and is gone — exited,
a zombie, or its pid now another process — is taken over at once; a live holder on this host
keeps its rows; a holder on another host keeps them until `lease_until`.
"""
from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import peewee as pw
import pytest

from kpudesk.tickets import lease as leases
from kpudesk.tickets import outbox
from kpudesk.tickets.schema import close_database, open_database
from tests.desk import Desk

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.fixture
def rows(tmp_path):
    open_database(f"sqlite:///{tmp_path}/k.db")
    items = [outbox.enqueue(kind="notice", sender="hd@kpu.example.org", recipients=[f"lo{i}@p.example.org"],
                            message_id=f"m{i}@kpu.example.org", data=b"Subject: x\r\n\r\nisi\r\n", now=NOW)
             for i in range(3)]
    yield [i.id for i in items]
    outbox._accepted.clear()
    close_database()


def lease(item_id: int, holder: str, until: datetime) -> None:
    outbox.OutboxItem.update(lease_until=until, lease_holder=holder).where(outbox.OutboxItem.id == item_id).execute()


def holder_of(proc: subprocess.Popen) -> str:
    stat = leases.proc_stat(proc.pid)
    return f"{leases.HOST}:{proc.pid}:{stat[1]}"


def queue_mail(desk: Desk, n: int) -> None:
    """`n` queued mails, as a poll's acknowledgements would be (finished bytes)."""
    desk.app()
    now = datetime.now(UTC)
    for i in range(n):
        data = (f"From: {desk.root.name} <hd@kpu.example.org>\r\nTo: lo{i}@p.example.org\r\n"
                f"Message-ID: <m{i}@kpu.example.org>\r\nSubject: Tiket {i}\r\n\r\nisi\r\n").encode()
        outbox.enqueue(kind="ack", sender="hd@kpu.example.org", recipients=[f"lo{i}@p.example.org"],
                       message_id=f"m{i}@kpu.example.org", data=data, now=now)
    close_database()


def due_ids(now=NOW) -> list[int]:
    return [i.id for i in outbox.due(now, ignore_backoff=True)]


def test_a_lease_held_by_a_sender_that_is_gone_is_taken_over_at_once(rows):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    text = holder_of(gone)
    gone.wait()
    lease(rows[0], text, NOW + timedelta(minutes=5))
    assert due_ids() == rows
    assert outbox.claim(rows[0], NOW)
    assert outbox.OutboxItem.get_by_id(rows[0]).lease_holder == leases.holder()
    assert not outbox.claim(rows[0], NOW)  # now ours: a second claim in this process is refused


def test_a_killed_unreaped_sender_and_a_reused_pid_hold_nothing(rows):
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lease(rows[0], holder_of(zombie), NOW + timedelta(minutes=5))
        lease(rows[1], f"{leases.HOST}:{live.pid}:1", NOW + timedelta(minutes=5))  # same pid, other start
        zombie.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while leases.proc_stat(zombie.pid)[0] != b"Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outbox.claim(rows[0], NOW) and outbox.claim(rows[1], NOW)
    finally:
        for p in (zombie, live):
            p.kill()
            p.wait()


def test_a_live_sender_on_this_host_keeps_its_rows_even_past_the_lease(rows):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lease(rows[0], holder_of(live), NOW - timedelta(minutes=1))  # expired, holder alive
        later = NOW + timedelta(hours=1)
        assert rows[0] not in due_ids(later)
        assert not outbox.claim(rows[0], later)
    finally:
        live.kill()
        live.wait()
    assert outbox.claim(rows[0], NOW)  # gone now: taken over at once


def test_a_lease_from_another_host_holds_until_it_runs_out(rows):
    lease(rows[0], "other-host.example:4242:1234", NOW + timedelta(minutes=5))
    assert rows[0] not in due_ids() and not outbox.claim(rows[0], NOW)
    after = NOW + timedelta(minutes=6)
    assert rows[0] in due_ids(after) and outbox.claim(rows[0], after)


def test_an_accepted_mail_whose_mark_is_refused_is_remembered_and_never_claimed_again(rows, monkeypatch):
    real = outbox.mark_sent
    locked = {"on": True}

    def mark_sent(item_id, now, note=""):
        if locked["on"]:
            raise pw.OperationalError("database is locked")
        real(item_id, now, note)

    monkeypatch.setattr(outbox, "mark_sent", mark_sent)
    assert outbox.claim(rows[0], NOW)
    assert outbox.record_sent(rows[0], NOW, "250 ok", attempts=2) is False
    later = NOW + timedelta(hours=1)  # lease long past: still not ours to send again
    assert rows[0] not in due_ids(later) and not outbox.claim(rows[0], later)
    item = outbox.OutboxItem.get_by_id(rows[0])
    assert item.status == "pending" and item.lease_holder == leases.holder()
    locked["on"] = False
    assert outbox.retry_marks() == 0
    item = outbox.OutboxItem.get_by_id(rows[0])
    assert (item.status, item.lease_holder, item.lease_until) == ("sent", None, None)


def test_a_mark_refused_by_a_lock_does_not_stop_the_batch_nor_resend(tmp_path, imap_user, smtp_server, monkeypatch):
    """Three queued mails; the database refuses the first "sent" mark three times (the
    attempts of one flush), then works: all three go out once each, all end sent."""
    from kpudesk.daemon.sender import flush
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server)
    queue_mail(desk, 3)
    app = desk.app()
    real, refusals = outbox.mark_sent, collections.Counter()

    def mark_sent(item_id, now, note=""):
        if not refusals or (refusals.total() < outbox.MARK_ATTEMPTS and item_id == min(refusals)):
            refusals[item_id] += 1
            raise pw.OperationalError("database is locked")
        real(item_id, now, note)

    monkeypatch.setattr(outbox, "mark_sent", mark_sent)
    try:
        stats, unreachable = flush(app, ignore_backoff=True)
    finally:
        outbox._accepted.clear()
    assert (stats.sent, stats.pending, unreachable) == (3, 0, False)
    assert sum(refusals.values()) == outbox.MARK_ATTEMPTS  # the batch went on after the first mark failed
    ids = collections.Counter(m.message["Message-ID"] for m in smtp_server.messages)
    assert len(ids) == 3 and set(ids.values()) == {1}
    assert outbox.counts() == {"sent": 3}


@pytest.mark.slow
def test_send_killed_repeatedly_then_one_send_delivers_every_row_at_once(tmp_path, imap_user):
    """SIGKILL `kpudesk send` mid-batch again and again, then one more `send` delivers
    every pending row at once (no lease waits out its five minutes); the only repeats are
    the mails in flight at each kill, twice at most."""
    from tests.servers.smtp import SmtpServer
    n, kills = 40, 5
    with SmtpServer(data_delay=0.1) as server:
        desk = Desk(tmp_path / "desk", imap_user, smtp=server)
        queue_mail(desk, n)
        for k in range(kills):
            proc = desk.spawn("send")
            target = len(server.messages) + 4
            deadline = time.monotonic() + 60
            while len(server.messages) < target and time.monotonic() < deadline:
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        delivered_before = len({m.message["Message-ID"] for m in server.messages})
        assert len(server.messages) >= kills * 4 and delivered_before < n
        last = desk.json("send")
        assert last["pending"] == 0 and last["deferred"] == 0 and last["failed"] == 0
        assert last["sent"] >= n - delivered_before
        desk.app()
        assert outbox.counts() == {"sent": n}
        close_database()
        ids = collections.Counter(m.message["Message-ID"] for m in server.messages)
        assert len(ids) == n
        repeated = [i for i, c in ids.items() if c > 1]
        assert len(repeated) <= kills and all(ids[i] == 2 for i in repeated)
