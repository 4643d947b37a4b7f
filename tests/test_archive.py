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


def test_a_message_reads_back_before_its_pack_is_written(tmp_path):
    archive = Archive(tmp_path)
    _, rel = archive.append(b"satu")
    _, rel2 = archive.append(b"dua")
    assert archive.read(rel2) == b"dua" and not archive.path(rel).exists()
    archive.sync()
    assert archive.path(rel).read_bytes() == b"satudua"
