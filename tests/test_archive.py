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
