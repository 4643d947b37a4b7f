"""The cloud folder against a real remote on loopback (`rclone serve webdav`, tests/servers/rclone.py):
files queued → `kpudesk storage sync` → each arrives once with the right bytes; an outage keeps
them pending (exit 75) and loses nothing; a crash between copy and record never copies twice;
a remote that refuses a file fails it, visibly (`storage sync --json`, /healthz, the ticket page).
"""
from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta

import pytest

from kpudesk.daemon.config import load_settings
from kpudesk.daemon.mirror_sync import CRASH_AFTER_COPY_ENV, check_remote, sync
from kpudesk.tickets.errors import TempFailure
from kpudesk.daemon.runner import Runner
from kpudesk.tickets import mirror
from kpudesk.tickets.models import MirrorItem, Ticket, db
from kpudesk.tickets.poll_log import record_poll
from kpudesk.tickets.schema import close_database
from tests.corpus.hostile import party_mail
from tests.officer_desk import offline_desk
from tests.servers.rclone import WebdavRemote
from tests.web_fixtures import WebDesk

pytestmark = pytest.mark.skipif(os.system("rclone version >/dev/null 2>&1") != 0, reason="rclone not installed")

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 10:00 WIB: files go under 2026/12/


@pytest.fixture
def remote():
    with WebdavRemote() as r:
        yield r


def mirrored_desk(root, remote: WebdavRemote):
    desk = offline_desk(root)
    text = desk.settings_path.read_text(encoding="utf-8")
    assert '[storage]\ndir = "state"\n' in text
    desk.settings_path.write_text(text.replace(
        '[storage]\ndir = "state"\n',
        f'[storage]\ndir = "state"\nmirror = "{remote.remote}"\nmirror_config = "{remote.config}"\nmirror_timeout = 10\n'),
        encoding="utf-8")
    return desk


def queue(app, names: list[str], *, ref: str = "HD-MSJ #1", ticket: Ticket | None = None) -> dict[str, str]:
    """Archive files and queue them, as the guest book and reports do; remote path → SHA-256."""
    expected = {}
    with db.atomic():
        for name in names:
            data = (f"isi berkas {name} ".encode() * 2000) + os.urandom(16)
            sha, rel = app.archive.put(data, kind="doc", suffix=".bin")
            item = mirror.enqueue(path=rel, sha256=sha, size=len(data), name=name, now=NOW, zone=app.settings.zone,
                                  ticket_ref=ref, ticket=ticket)
            expected[item.remote_path] = sha
    return expected


def sync_json(desk) -> tuple[int, dict]:
    r = desk.run("storage", "sync", "--json")
    return r.code, json.loads(r.out)


def test_queued_files_arrive_once_with_their_hash(tmp_path, remote):
    desk = mirrored_desk(tmp_path / "desk", remote)
    expected = queue(desk.app(), ["tanda tangan.png", "foto 1.jpg", "rekaman.mp4"])
    close_database()
    code, out = sync_json(desk)
    assert code == 0 and (out["uploaded"], out["pending"], out["failed"]) == (3, 0, 0)
    assert remote.files() == expected  # hashed from the served folder itself
    assert set(expected) == {"2026/12/HD-MSJ-1/tanda-tangan.png", "2026/12/HD-MSJ-1/foto-1.jpg",
                             "2026/12/HD-MSJ-1/rekaman.mp4"}
    assert all(remote.puts(p) == 1 for p in expected)
    code, again = sync_json(desk)
    assert code == 0 and (again["uploaded"], again["found"], again["pending"]) == (0, 0, 0)
    assert all(remote.puts(p) == 1 for p in expected)  # nothing copied twice
    assert {i.status for i in MirrorItem.select()} == {"stored"}
    # A damaged copy of the same size (this remote keeps no hashes: read back and hashed).
    damaged = "2026/12/HD-MSJ-1/foto-1.jpg"
    data = (remote.top / damaged).read_bytes()
    (remote.top / damaged).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    MirrorItem.update(status="pending").where(MirrorItem.remote_path == damaged).execute()
    close_database()
    code, out = sync_json(desk)
    assert code == 0 and (out["uploaded"], out["found"]) == (1, 0)
    assert remote.files() == expected and remote.puts(damaged) == 2


def test_an_outage_keeps_every_file_pending_and_the_restart_delivers_each_once(tmp_path, remote):
    desk = mirrored_desk(tmp_path / "desk", remote)
    remote.stop()
    expected = queue(desk.app(), ["a.pdf", "b.pdf"])
    close_database()
    r = desk.run("storage", "sync", "--json")
    out = json.loads(r.out)
    assert r.code == 75 and (out["uploaded"], out["pending"], out["failed"]) == (0, 2, 0)
    assert "tidak dapat dihubungi" in desk.run("storage", "sync").err
    assert [(i.status, i.attempts, i.lease_holder) for i in MirrorItem.select()] == [("pending", 0, None)] * 2
    close_database()
    st = desk.json("status")
    assert (st["mirror"], st["mirror_pending"], st["mirror_failed"]) == ("kpudesk-test:kpu", 2, 0)
    settings = load_settings(desk.settings_path)
    with pytest.raises(TempFailure, match="folder awan kpudesk-test:kpu tidak dapat dihubungi"):
        check_remote(settings)  # what `kpudesk check` says after IMAP and SMTP
    remote.start()
    assert check_remote(settings) == "Folder awan kpudesk-test:kpu: dapat dihubungi"
    code, out = sync_json(desk)
    assert code == 0 and (out["uploaded"], out["pending"]) == (2, 0)
    assert remote.files() == expected and all(remote.puts(p) == 1 for p in expected)


def test_a_crash_after_the_copy_is_recorded_by_the_next_pass_without_copying_again(tmp_path, remote):
    desk = mirrored_desk(tmp_path / "desk", remote)
    expected = queue(desk.app(), ["foto.jpg"])
    close_database()
    (path,) = expected
    proc = desk.spawn("storage", "sync", env={**os.environ, **desk.env, CRASH_AFTER_COPY_ENV: "1"})
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL  # killed after the copy, before the record
    assert remote.files() == expected and remote.puts(path) == 1
    (row,) = MirrorItem.select()
    assert row.status == "pending" and row.lease_holder  # the dead uploader's lease
    close_database()
    code, out = sync_json(desk)
    assert code == 0 and (out["uploaded"], out["found"], out["pending"]) == (0, 1, 0)
    assert remote.puts(path) == 1  # found there by size and hash: not uploaded twice
    assert MirrorItem.get().status == "stored"


def test_a_refused_file_fails_after_the_backoff_schedule_and_shows_everywhere(tmp_path, remote):
    web = WebDesk(tmp_path / "web", extra={"storage": {"dir": str(tmp_path / "web" / "state"), "mirror": remote.remote,
                                                       "mirror_config": str(remote.config), "mirror_timeout": 10}})
    web.feeder.deliver(party_mail("lia@pdip.example.org", "Foto konsultasi", "Ini fotonya"),
                       party_mail("budi@pkb.example.org", "Rekaman", "Ini rekamannya"))
    t, t2 = Ticket.select().order_by(Ticket.id)
    record_poll(web.clock.now())  # as a poll does at its end (/healthz reads it)
    ok = queue(web.app, ["diterima.jpg"], ref="HD-MSJ #1", ticket=t)
    # The remote's folder of the second ticket is read-only: the server refuses uploads there.
    locked = remote.top / "2026" / "12" / "HD-MSJ-2"
    locked.mkdir(parents=True)
    for p in (remote.top, remote.top / "2026", remote.top / "2026" / "12", locked):
        remote.own(p)
    locked.chmod(0o555)
    refused = queue(web.app, ["rekaman.mp4"], ref="HD-MSJ #2", ticket=t2)
    stats, unreachable = sync(web.app, ignore_backoff=True)
    assert not unreachable and (stats.uploaded, stats.deferred, stats.pending, stats.failed) == (1, 1, 1, 0)
    assert remote.files() == ok
    (bad,) = MirrorItem.select().where(MirrorItem.status == "pending")
    assert bad.attempts == 1 and bad.next_attempt_at > web.clock.now() and "ditolak folder awan" in bad.last_error
    for _ in range(mirror.GIVE_UP_AFTER - 1):
        stats, unreachable = sync(web.app, ignore_backoff=True)
    assert not unreachable and (stats.pending, stats.failed) == (0, 1)
    bad = MirrorItem.get_by_id(bad.id)
    assert bad.status == "failed" and f"menyerah setelah {mirror.GIVE_UP_AFTER} percobaan" in bad.last_error
    assert list(refused) == [bad.remote_path] and not (locked / "rekaman.mp4").exists()

    health = web.client.get("/healthz").get_json()
    assert (health["mirror_pending"], health["mirror_failed"]) == (0, 1)
    web.login(web.email("anggota-helpdesk"))
    page = web.client.get(f"/tickets/{t2.id}").get_data(as_text=True)
    assert 'data-mirror-status="failed"' in page and "gagal diunggah" in page and "rekaman.mp4" in page
    assert 'role="alert"' in page and "ditolak folder awan" in page
    page = web.client.get(f"/tickets/{t.id}").get_data(as_text=True)
    assert 'data-mirror-status="stored"' in page and "tersimpan di folder awan" in page


def test_the_daemon_pushes_the_backlog_in_its_own_thread(tmp_path, remote):
    desk = mirrored_desk(tmp_path / "desk", remote)
    app = desk.app()
    expected = queue(app, ["x.png", "y.png"])
    runner = Runner(app)
    runner.poll_cadence.due = lambda now: False  # no IMAP server here: only the cloud folder
    ran = runner.tick(datetime.now(UTC))
    runner.wait_mirror(60)
    assert "mirror" in ran and remote.files() == expected
    assert "mirror" not in runner.tick(datetime.now(UTC))  # next pass in five minutes
    close_database()


def test_the_daemon_backs_off_while_the_remote_is_down_and_catches_up(tmp_path, remote):
    desk = mirrored_desk(tmp_path / "desk", remote)
    app = desk.app()
    expected = queue(app, ["p.png"])
    remote.stop()
    runner = Runner(app)
    runner.poll_cadence.due = runner.flush_cadence.due = lambda now: False  # only the cloud folder
    start = datetime.now(UTC)
    assert "mirror" in runner.tick(start)
    runner.wait_mirror(60)
    assert runner.mirror_cadence.failures == 1 and MirrorItem.get().status == "pending"
    assert "mirror" not in runner.tick(start + timedelta(seconds=30))  # backing off: 1 minute first
    remote.start()
    assert "mirror" in runner.tick(start + timedelta(minutes=1))
    runner.wait_mirror(60)
    assert remote.files() == expected and MirrorItem.get().status == "stored" and runner.mirror_cadence.failures == 0
    close_database()


def test_without_a_cloud_folder_sync_says_so_and_keeps_the_queue(tmp_path):
    desk = offline_desk(tmp_path / "desk")
    queue(desk.app(), ["z.pdf"])
    close_database()
    r = desk.run("storage", "sync")
    assert r.code == 0 and "Folder awan belum diatur" in r.out and "1 berkas menunggu" in r.out
    code, out = sync_json(desk)
    assert code == 0 and out["configured"] is False and out["pending"] == 1
    assert MirrorItem.get().status == "pending"
    close_database()
    st = desk.json("status")
    assert (st["mirror"], st["mirror_pending"], st["mirror_failed"]) == (None, 1, 0)
    assert "Folder awan       : 1 berkas menunggu, 0 gagal (belum diatur" in desk.run("status").out


def test_a_remote_with_hashes_is_checked_by_its_own_and_a_damaged_copy_is_replaced(tmp_path):
    """A remote that offers SHA-256 (rclone's local backend here: as S3, SFTP, OneDrive offer
    theirs): a copy of the right size but other bytes is not taken for the file."""
    conf = tmp_path / "rclone.conf"
    conf.write_text("[kpudesk-disk]\ntype = local\n", encoding="utf-8")
    cloud = tmp_path / "disk"
    web = WebDesk(tmp_path / "web", extra={"storage": {"dir": str(tmp_path / "web" / "state"),
                                                       "mirror": f"kpudesk-disk:{cloud}", "mirror_config": str(conf)}})
    expected = queue(web.app, ["laporan.pdf"], ref="HD-MSJ #3")
    (path,) = expected
    target = cloud / path
    target.parent.mkdir(parents=True)
    good = (web.app.archive.root / MirrorItem.get().path).read_bytes()
    target.write_bytes(bytes([good[0] ^ 1]) + good[1:])  # same size, one bit off: a damaged earlier copy
    stats, unreachable = sync(web.app, ignore_backoff=True)
    assert not unreachable and (stats.found, stats.uploaded, stats.pending) == (0, 1, 0)
    assert target.read_bytes() == good and MirrorItem.get().status == "stored"
    stats, _ = sync(web.app, ignore_backoff=True)
    assert (stats.found, stats.uploaded) == (0, 0)
    MirrorItem.update(status="pending").execute()  # as after a crash before the record
    stats, _ = sync(web.app, ignore_backoff=True)
    assert (stats.found, stats.uploaded) == (1, 0) and MirrorItem.get().status == "stored"


@pytest.mark.parametrize("storage, words", [
    ({"mirror": "tidak-ada:kpu"}, "remote 'tidak-ada' tidak ada di konfigurasi rclone"),
    ({"mirror": "kpudesk-test:kpu", "mirror_rclone": "/nonexistent/rclone"}, "program rclone tidak ditemukan"),
])
def test_a_remote_rclone_does_not_know_is_a_settings_error(tmp_path, remote, storage, words):
    desk = mirrored_desk(tmp_path / "desk", remote)
    text = desk.settings_path.read_text(encoding="utf-8").replace(f'mirror = "{remote.remote}"\n', "")
    lines = "".join(f'{k} = "{v}"\n' for k, v in storage.items())
    desk.settings_path.write_text(text.replace('[storage]\n', f"[storage]\n{lines}"), encoding="utf-8")
    queue(desk.app(), ["q.pdf"])
    close_database()
    r = desk.run("storage", "sync")
    assert r.code == 2 and words in r.err and "Traceback" not in r.err
    assert MirrorItem.get().status == "pending" and remote.files() == {}


def test_two_uploaders_at_once_copy_each_file_once(tmp_path, remote):
    desk = mirrored_desk(tmp_path / "desk", remote)
    expected = queue(desk.app(), [f"foto-{n}.jpg" for n in range(12)])
    close_database()
    procs = [desk.spawn("storage", "sync", "--json") for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sum(o["uploaded"] + o["found"] for o in outs) == 12 and all(o["failed"] == 0 for o in outs)
    assert remote.files() == expected and all(remote.puts(p) == 1 for p in expected)
    assert {i.status for i in MirrorItem.select()} == {"stored"}
