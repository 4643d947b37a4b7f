"""The raw archive: content-addressed, byte-exact, and readable across its two layouts."""
import hashlib

from kpudesk.tickets.archive import Archive


def test_same_bytes_are_stored_once_byte_exact(tmp_path):
    archive = Archive(tmp_path)
    data = b"From: a@b.example\r\n\r\nisi \xff\r\n"
    sha, rel = archive.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert rel == f"raw/{sha[:2]}/{sha}.eml"
    assert archive.put(data) == (sha, rel)
    archive.sync()
    assert archive.read(rel) == data and archive.verify(rel, sha)
    assert [p.name for p in (tmp_path / "raw").rglob("*") if p.is_file()] == [f"{sha}.eml"]


def test_a_file_in_the_old_two_level_layout_is_found_not_written_again(tmp_path):
    data = b"Subject: lama\r\n\r\nisi\r\n"
    sha = hashlib.sha256(data).hexdigest()
    old = tmp_path / "raw" / sha[:2] / sha[2:4] / f"{sha}.eml"
    old.parent.mkdir(parents=True)
    old.write_bytes(data)
    archive = Archive(tmp_path)
    assert archive.put(data) == (sha, f"raw/{sha[:2]}/{sha[2:4]}/{sha}.eml")
    assert not (tmp_path / "raw" / sha[:2] / f"{sha}.eml").exists()


def test_fetched_messages_share_one_pack_per_batch_and_read_back_byte_exact(tmp_path):
    archive = Archive(tmp_path)
    first = [b"Subject: satu\r\n\r\nisi\r\n", b"Subject: dua\r\n\r\n\x00\xff biner\r\n"]
    stored = [archive.append(data) for data in first]
    archive.sync()  # ends the batch: the next message goes into a new pack
    stored.append(archive.append(b"Subject: tiga\r\n\r\nisi\r\n"))
    archive.sync()
    packs = sorted((tmp_path / "raw" / "packs").iterdir())
    assert len(packs) == 2
    for data, (sha, rel) in zip(first + [b"Subject: tiga\r\n\r\nisi\r\n"], stored):
        assert sha == hashlib.sha256(data).hexdigest()
        assert archive.read(rel) == data and archive.verify(rel, sha)
        assert archive.path(rel) in packs
    assert {archive.path(rel) for _, rel in stored[:2]} != {archive.path(stored[2][1])}


def test_a_packed_path_past_the_end_of_its_pack_is_an_error_not_short_data(tmp_path):
    import pytest

    archive = Archive(tmp_path)
    _, rel = archive.append(b"0123456789")
    archive.sync()
    name = rel.partition("#")[0]
    with pytest.raises(OSError, match="truncated"):
        archive.read(f"{name}#5:10")


def test_a_pack_written_with_short_writes_is_complete(tmp_path, monkeypatch):
    real = os.writev
    monkeypatch.setattr(os, "writev", lambda fd, bufs: real(fd, [bytes(bufs[0])[:5]]))  # 5 bytes a call
    archive = Archive(tmp_path)
    stored = [(data, archive.append(data)[1]) for data in (b"Subject: a\r\n\r\nsatu", b"", b"Subject: b\r\n\r\ndua")]
    archive.sync()
    for data, rel in stored:
        assert archive.read(rel) == data


def test_a_message_reads_back_before_its_pack_is_written(tmp_path):
    archive = Archive(tmp_path)
    _, rel = archive.append(b"satu")
    _, rel2 = archive.append(b"dua")
    assert archive.read(rel2) == b"dua" and not archive.path(rel).exists()
    archive.sync()
    assert archive.path(rel).read_bytes() == b"satudua"


# --- a failed write (issue 11 item 4) ------------------------------------------------

import errno
import os
import resource
import signal
import sqlite3

import pytest

from kpudesk.tickets.archive import ArchiveWriteError
from kpudesk.tickets.errors import TempFailure


def _failing_writes(monkeypatch, times: int):
    """os.writev raises ENOSPC for the next `times` calls (a full disk), then works."""
    real = os.writev
    left = [times]

    def writev(fd, buffers):
        if left[0] > 0:
            left[0] -= 1
            os.write(fd, bytes(buffers[0])[:3])  # something reached the disk: the partial file exists
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, buffers)

    monkeypatch.setattr(os, "writev", writev)


def test_a_failed_pack_write_leaves_no_file_resets_the_pack_and_the_next_sync_works(tmp_path, monkeypatch):
    archive = Archive(tmp_path)
    archive.append(b"Subject: satu\r\n\r\nisi\r\n")
    _failing_writes(monkeypatch, 1)
    with pytest.raises(ArchiveWriteError) as err:
        archive.sync()
    assert isinstance(err.value, TempFailure)
    assert "gagal menulis arsip" in str(err.value) and "raw/packs" in str(err.value)
    assert "No space left on device" in str(err.value)
    packs = tmp_path / "raw" / "packs"
    assert list(packs.iterdir()) == []  # neither the partial pack nor its temporary file
    # Space is back: the next batch packs afresh (before: FileExistsError on the old name,
    # and the old buffer kept growing).
    sha, rel = archive.append(b"Subject: dua\r\n\r\nisi\r\n")
    archive.sync()
    assert archive.read(rel) == b"Subject: dua\r\n\r\nisi\r\n"
    assert [p.stat().st_size for p in packs.iterdir()] == [len(b"Subject: dua\r\n\r\nisi\r\n")]


def test_a_failed_put_leaves_no_partial_file_that_would_later_pass_for_complete(tmp_path, monkeypatch):
    archive = Archive(tmp_path)
    data = b"lampiran " * 100
    _failing_writes(monkeypatch, 1)
    with pytest.raises(ArchiveWriteError):
        archive.put(data, kind="att", suffix="")
    assert [p for p in (tmp_path / "att").rglob("*") if p.is_file()] == []
    sha, rel = archive.put(data, kind="att", suffix="")
    assert archive.read(rel) == data


def test_archive_files_are_0600_and_folders_0700_under_a_022_umask(tmp_path):
    old = os.umask(0o022)
    try:
        archive = Archive(tmp_path / "archive")
        _, put_rel = archive.put(b"Subject: x\r\n\r\ny\r\n")
        _, pack_rel = archive.append(b"Subject: z\r\n\r\ny\r\n")
        archive.sync()
    finally:
        os.umask(old)
    root = tmp_path / "archive"
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode & 0o777
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))


def _limit_file_size(limit: int):
    def preexec():
        # SIGXFSZ would kill the process; ignored, write() returns EFBIG (a full disk's ENOSPC
        # takes the same path).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def _attachment_mail(n: int) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"Partai {n} <lo{n}@partai-uji.example.org>"
    msg["To"] = "helpdesk@kpu-mesuji.example.org"
    msg["Subject"] = f"Berkas KTA {n}"
    msg["Message-ID"] = f"<fsize-{n}@partai-uji.example.org>"
    msg["Date"] = "Mon, 4 Nov 2024 08:00:00 +0700"
    msg.set_content("Terlampir berkas KTA untuk Sipol.")
    msg.add_attachment(os.urandom(60_000) + bytes([n]), maintype="application", subtype="pdf", filename="kta.pdf")
    return msg.as_bytes()


def test_poll_on_a_full_disk_exits_75_moves_nothing_and_later_ingests_everything_once(tmp_path, imap_user):
    from tests.desk import Desk

    desk = Desk(tmp_path / "desk", imap_user)
    assert desk.run("poll").code == 0  # creates the database while there is room
    imap_user.append_many("INBOX", [_attachment_mail(n) for n in range(20)])
    # Each attachment file (~60 KB) and the database fit under 512 KB; the batch's pack
    # (20 x ~82 KB) does not.
    proc = desk.spawn("poll", "--json", cwd=desk.root, preexec_fn=_limit_file_size(512 * 1024))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 75, (out, err)
    text = err.decode()
    assert "gagal menulis arsip" in text and "Traceback" not in text
    db = sqlite3.connect(desk.root / "state" / "kpudesk.db")
    assert db.execute("SELECT COUNT(*) FROM message").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM ticket").fetchone() == (0,)
    assert db.execute("SELECT COALESCE(MAX(last_uid), 0) FROM folder_state").fetchone() == (0,)
    packs = desk.root / "state" / "archive" / "raw" / "packs"
    assert not packs.exists() or list(packs.iterdir()) == []  # no partial pack, no temp file

    # Space is back: everything is stored, once.
    first = desk.json("poll")
    assert first["fetched"] == 20 and first["tickets_created"] == 20
    assert desk.json("poll")["fetched"] == 0
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT uid) FROM message WHERE direction = 'in'").fetchone() == (20, 20)
    assert db.execute("SELECT MAX(last_uid) FROM folder_state WHERE name = 'INBOX'").fetchone() == (20,)


def test_sync_makes_the_pack_and_its_folder_durable_before_the_commit(tmp_path, monkeypatch):
    """sync() fsyncs the pack file and the folder that names it (a power cut after the
    database commit must not lose a file a row points at)."""
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    archive = Archive(tmp_path / "archive")
    _sha, rel = archive.append(b"From: a@b\r\n\r\nisi\r\n")
    monkeypatch.setattr(os, "fsync", recording_fsync)
    archive.sync()
    pack = archive.path(rel)
    assert any(p.startswith(str(pack.parent / f".{pack.name}")) for p in synced)  # the file, before its rename
    assert str(pack.parent) in synced  # and the directory entry
    synced.clear()
    archive.sync()
    assert synced == []  # nothing new: nothing to sync
