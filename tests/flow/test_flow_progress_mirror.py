"""The progress import queues its evidence for the office's cloud folder in its own
transaction, whether the web desk or `kpudesk progress import` calls it (issue 15 items 3
and 5); a rejected import queues nothing."""
from __future__ import annotations

import hashlib

import pytest

from kpudesk.tickets.models import Evidence, MirrorItem
from kpudesk.tickets.progress import ImportRejected, import_csv
from tests.feeder import Feeder

PNG = b"\x89PNG\r\n\x1a\n" + b"dasbor" * 30
CSV = "partai;pengurus;anggota;kantor;waktu\nPKB;3;1.200;1;2026-12-01 08:45\n"


@pytest.fixture
def desk(tmp_path):
    return Feeder(tmp_path)


def run(desk, text, *evidence, **kw):
    return import_csv(text, evidence_files=evidence, archive=desk.app.archive, clock=desk.clock,
                      zone=desk.settings.zone, actor="Rina Wulandari", **kw)


def test_the_cli_path_queues_each_evidence_file_once(desk, tmp_path):
    shot = tmp_path / "dasbor 08.45.png"
    shot.write_bytes(PNG)
    imp = run(desk, CSV, shot, shot)
    (ev,) = Evidence.select().where(Evidence.import_ == imp)
    (item,) = MirrorItem.select()
    assert (item.path, item.sha256, item.size, item.status, item.ticket_id) == (
        ev.path, hashlib.sha256(PNG).hexdigest(), len(PNG), "pending", None)
    assert item.remote_path == "2026/12/progres/dasbor-08.45.png"


def test_a_rejected_import_queues_nothing(desk, tmp_path):
    shot = tmp_path / "dasbor.png"
    shot.write_bytes(PNG)
    with pytest.raises(ImportRejected):
        run(desk, CSV.replace("PKB", "Partai Entah"), shot)
    assert MirrorItem.select().count() == 0 and Evidence.select().count() == 0


def test_typed_refuses_what_is_not_an_image_or_pdf_whatever_its_name(desk):
    with pytest.raises(ImportRejected) as exc:
        run(desk, CSV, ("foto.jpg", b"#!/bin/sh\nrm -rf /\n"), typed=True)
    assert exc.value.problems == ["bukti foto.jpg: isi berkas bukan gambar atau PDF (jenis tidak dikenal); tidak diterima"]
    assert MirrorItem.select().count() == 0
