"""tickets/mirror.py: where an archived file goes in the cloud folder, queued once."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import peewee as pw
import pytest

from kpudesk.tickets import models as m
from kpudesk.tickets.mirror import enqueue, remote_path, safe_part

WIB = ZoneInfo("Asia/Jakarta")
# 30 November 2026 23:30 UTC is already 1 December in Mesuji
LATE = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


@pytest.fixture
def database():
    database = pw.SqliteDatabase(":memory:")
    m.db.initialize(database)
    database.create_tables(m.MODELS)
    yield database
    database.close()


def test_the_folder_is_the_month_in_the_helpdesk_zone_and_the_ticket_reference():
    assert remote_path(name="tanda tangan.png", folder="HD-MSJ #12", at=LATE, zone=WIB) == \
        "2026/12/HD-MSJ-12/tanda-tangan.png"


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "..", "/", "a/b\\c", "\x00", "…"])
def test_a_hostile_name_stays_one_segment_inside_the_folder(hostile):
    part = safe_part(hostile)
    assert part and "/" not in part and "\\" not in part and part not in (".", "..") and part.isascii()


def test_queued_once_and_a_namesake_never_overwrites(database):
    a = enqueue(path="att/aa", sha256="a" * 64, size=3, name="foto.jpg", now=LATE, zone=WIB, kind="dokumentasi")
    again = enqueue(path="att/aa", sha256="a" * 64, size=3, name="foto.jpg", now=LATE, zone=WIB, kind="dokumentasi")
    other = enqueue(path="att/bb", sha256="b" * 64, size=4, name="foto.jpg", now=LATE, zone=WIB, kind="dokumentasi")
    assert again.id == a.id and m.MirrorItem.select().count() == 2
    assert a.remote_path == "2026/12/dokumentasi/foto.jpg" and other.remote_path == "2026/12/dokumentasi/foto-bbbbbbbb.jpg"
    assert {i.status for i in m.MirrorItem.select()} == {"pending"}


def test_a_file_needs_a_folder(database):
    with pytest.raises(ValueError):
        enqueue(path="x", sha256="c" * 64, size=1, name="x.pdf", now=LATE, zone=WIB)
