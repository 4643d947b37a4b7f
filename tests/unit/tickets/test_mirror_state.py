"""tickets/mirror.py's state machine: pending → stored | failed, backoff, leases (FrozenClock)."""
from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import peewee as pw
import pytest

from kpudesk.tickets import mirror
from kpudesk.tickets import models as m
from kpudesk.tickets.backoff import RETRY_MINUTES
from kpudesk.tickets.clock import FrozenClock
from kpudesk.tickets.lease import LEASE, holder

WIB = ZoneInfo("Asia/Jakarta")
START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    database = pw.SqliteDatabase(":memory:")
    m.db.initialize(database)
    database.create_tables(m.MODELS)
    yield FrozenClock(START)
    database.close()


def queued(clock, name: str = "foto.jpg") -> m.MirrorItem:
    return mirror.enqueue(path=f"doc/{name}", sha256=name.ljust(64, "0")[:64], size=10, name=name, now=clock.now(),
                          zone=WIB, kind="dokumentasi")


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_refused_file_backs_off_on_the_schedule_then_fails_with_its_reason(clock):
    item = queued(clock)
    for n, minutes in enumerate(RETRY_MINUTES[:-1], start=1):
        assert mirror.claim(item.id, clock.now())
        assert mirror.mark_temporary(item.id, clock.now(), "ditolak folder awan (kuota)") is False
        row = m.MirrorItem.get_by_id(item.id)
        assert (row.status, row.attempts, row.lease_holder) == ("pending", n, None)
        assert row.next_attempt_at == clock.now() + timedelta(minutes=minutes)
        assert mirror.due(clock.now()) == []  # waiting out its backoff
        assert [i.id for i in mirror.due(clock.now(), ignore_backoff=True)] == [item.id]  # storage sync
        clock.advance(minutes=minutes)
        assert [i.id for i in mirror.due(clock.now())] == [item.id]
    assert mirror.claim(item.id, clock.now())
    assert mirror.mark_temporary(item.id, clock.now(), "ditolak folder awan (kuota)") is True
    row = m.MirrorItem.get_by_id(item.id)
    assert row.status == "failed" and row.attempts == mirror.GIVE_UP_AFTER == len(RETRY_MINUTES)
    assert row.last_error == f"menyerah setelah {len(RETRY_MINUTES)} percobaan: ditolak folder awan (kuota)"
    assert mirror.due(clock.now(), ignore_backoff=True) == []
    assert mirror.counts() == {"failed": 1}


def test_a_permanent_refusal_fails_at_once_and_retry_failed_queues_it_again(clock):
    item = queued(clock)
    mirror.claim(item.id, clock.now())
    mirror.mark_permanent(item.id, clock.now(), "berkas arsip doc/foto.jpg tidak ditemukan")
    row = m.MirrorItem.get_by_id(item.id)
    assert (row.status, row.attempts, row.lease_holder) == ("failed", 1, None) and "tidak ditemukan" in row.last_error
    assert mirror.retry_failed(clock.now()) == 1
    row = m.MirrorItem.get_by_id(item.id)
    assert (row.status, row.attempts) == ("pending", 0) and [i.id for i in mirror.due(clock.now())] == [item.id]


def test_stored_only_by_mark_stored_which_clears_the_reason(clock):
    item = queued(clock)
    mirror.claim(item.id, clock.now())
    mirror.mark_temporary(item.id, clock.now(), "galat sementara")
    clock.advance(minutes=1)
    assert mirror.claim(item.id, clock.now())
    mirror.mark_stored(item.id, clock.now())
    row = m.MirrorItem.get_by_id(item.id)
    assert (row.status, row.last_error, row.lease_holder, row.stored_at) == ("stored", None, None, clock.now())
    assert mirror.due(clock.now(), ignore_backoff=True) == [] and not mirror.claim(item.id, clock.now())


def test_an_unreachable_remote_gives_the_row_back_untouched(clock):
    item = queued(clock)
    assert mirror.claim(item.id, clock.now())
    mirror.release(item.id)
    row = m.MirrorItem.get_by_id(item.id)
    assert (row.status, row.attempts, row.lease_until, row.last_error) == ("pending", 0, None, None)
    assert [i.id for i in mirror.due(clock.now())] == [item.id]


def test_two_uploaders_never_hold_one_row(clock):
    item = queued(clock)
    assert mirror.claim(item.id, clock.now())
    assert not mirror.claim(item.id, clock.now())  # held (by this very process, alive)
    assert mirror.due(clock.now(), ignore_backoff=True) == []
    # Another host's uploader: only its lease's end frees the row.
    m.MirrorItem.update(lease_holder="other-host:123:456").where(m.MirrorItem.id == item.id).execute()
    assert not mirror.claim(item.id, clock.now() + LEASE - timedelta(seconds=1))
    assert mirror.claim(item.id, clock.now() + LEASE + timedelta(seconds=1))
    assert m.MirrorItem.get_by_id(item.id).lease_holder == holder()


def test_a_dead_uploader_on_this_host_loses_its_rows_at_once(clock):
    item = queued(clock)
    host = holder().split(":")[0]
    m.MirrorItem.update(lease_until=clock.now() + LEASE, lease_holder=f"{host}:{dead_pid()}:1").where(
        m.MirrorItem.id == item.id).execute()
    assert [i.id for i in mirror.due(clock.now())] == [item.id]
    assert mirror.claim(item.id, clock.now())


def test_the_ticket_page_rows_say_the_state_in_bahasa(clock):
    t = m.Ticket.create(subject="Foto", status="baru", channel="tatap-muka", created_at=clock.now(),
                        updated_at=clock.now(), flags={})
    a = mirror.enqueue(path="doc/a", sha256="a" * 64, size=1, name="tanda tangan.png", now=clock.now(), zone=WIB,
                       ticket=t, ticket_ref="HD-MSJ #1")
    b = mirror.enqueue(path="doc/b", sha256="b" * 64, size=1, name="foto.jpg", now=clock.now(), zone=WIB,
                       ticket=t, ticket_ref="HD-MSJ #1")
    mirror.mark_stored(a.id, clock.now())
    mirror.mark_permanent(b.id, clock.now(), "ditolak folder awan (galat fatal)")
    assert [(f["name"], f["label"], f["error"]) for f in mirror.of_ticket(t.id)] == [
        ("tanda-tangan.png", "tersimpan di folder awan", None),
        ("foto.jpg", "gagal diunggah", "ditolak folder awan (galat fatal)")]


def test_a_pass_walks_the_queue_in_batches_meeting_each_row_once(clock):
    ids = [queued(clock, f"f{n}.jpg").id for n in range(5)]
    first = mirror.due(clock.now(), limit=2)
    assert [i.id for i in first] == ids[:2]
    assert [i.id for i in mirror.due(clock.now(), limit=2, after=first[-1].id)] == ids[2:4]
    assert [i.id for i in mirror.due(clock.now(), limit=2, after=ids[3])] == ids[4:]
    assert mirror.due(clock.now(), limit=2, after=ids[4]) == []
