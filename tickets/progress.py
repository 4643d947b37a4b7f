"""Sipol data-entry progress: snapshots officers read off the Sipol dashboard, with evidence.

Sipol has no API, so an officer reads each party's figures (pengurus = officials, anggota =
members, kantor = offices) from the dashboard, types them into a CSV file (format:
docs/progress-csv.md) and imports it together with the dashboard screenshots:

    kpudesk progress import progres.csv --evidence dasbor-0800.png

An import is all or nothing: every row is checked first and every problem is reported with
its line number ("baris 4: ..."), in Indonesian, before anything is written. Evidence files
are stored byte-exact in the archive (content-addressed, SHA-256) and made durable before the
transaction that records them commits, and queued for the office's cloud folder
(tickets/mirror.py, under `<year>/<month>/progres/`) in that same transaction. The web desk
also has every evidence file typed by its bytes (`typed=True`: images and PDF only, whatever
the name says). The CSV itself is read and checked by progress_csv.py; this module imports
it, stores it with its evidence and reads the snapshots back.
"""
from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import filetype

from . import mirror
from .archive import Archive
from .errors import UserError
from .models import Evidence, Party, ProgressImport, ProgressSnapshot, db
from .progress_csv import COLUMNS, ImportRejected, decode, parse_csv

log = logging.getLogger(__name__)

__all__ = [
    "COLUMNS",
    "EVIDENCE_TYPES",
    "Evidence",
    "ImportRejected",
    "ProgressImport",
    "ProgressSnapshot",
    "import_csv",
    "latest_snapshots",
    "parse_csv",
    "previous_snapshot",
]

# --- importing ---------------------------------------------------------------------------------

#: What an evidence file may be, by its bytes: the dashboard's screenshots and a saved PDF.
EVIDENCE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif", "application/pdf"})


def _suffix(filename: str) -> str:
    ext = Path(filename).suffix.lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,10}", ext) else ".bin"


def _read_source(path_or_text: str | bytes | os.PathLike) -> tuple[str, bytes]:
    """(filename, bytes): a path (Path or a one-line str naming a file), bytes, or CSV text."""
    if isinstance(path_or_text, bytes):
        return "progres.csv", path_or_text
    if isinstance(path_or_text, os.PathLike) or (isinstance(path_or_text, str) and "\n" not in path_or_text):
        path = Path(path_or_text)
        try:
            return path.name, path.read_bytes()
        except OSError as exc:
            raise UserError(f"tidak dapat membaca {path}: {exc.strerror}") from None
    return "progres.csv", path_or_text.encode("utf-8")


def import_csv(path_or_text: str | bytes | os.PathLike, *,
               evidence_files: Iterable[str | os.PathLike | tuple[str, bytes]] = (),
               archive: Archive, clock, zone: ZoneInfo, actor: str,
               aliases: Mapping[str, int] | None = None, filename: str | None = None,
               typed: bool = False) -> ProgressImport:
    """Check, then store one CSV of snapshots with its evidence files, all in one transaction.

    `evidence_files` are paths or (name, bytes) pairs (uploads); with `typed` each must be an
    image or a PDF by its content (EVIDENCE_TYPES). `filename` names CSV bytes (an upload).
    `aliases` maps extra party names (e.g. the registry's "PDIP") to ballot numbers.
    Raises ImportRejected (a UserError) listing every problem; nothing is stored then.
    """
    source_name, data = _read_source(path_or_text)
    filename = Path((filename or "").replace("\\", "/")).name or source_name
    now = clock.now()
    text = decode(data)
    problems: list[str] = []
    try:
        rows = parse_csv(text, zone=zone, now=now, aliases=aliases)
    except ImportRejected as exc:
        problems += exc.problems
        rows = []
    evidence: list[tuple[str, bytes, str | None]] = []
    for f in evidence_files:
        if isinstance(f, tuple):  # (name, bytes): an upload
            name, content = Path(str(f[0]).replace("\\", "/")).name or "bukti", f[1]
            shown = name
        else:
            p = Path(f)
            name, shown = p.name, str(p)
            try:
                content = p.read_bytes()
            except OSError as exc:
                problems.append(f"bukti {p}: tidak dapat dibaca ({exc.strerror})")
                continue
        if not content:
            problems.append(f"bukti {shown}: berkas kosong")
            continue
        kind = filetype.guess(content)
        ctype = kind.mime if kind is not None else None
        if typed and ctype not in EVIDENCE_TYPES:
            problems.append(f"bukti {shown}: isi berkas bukan gambar atau PDF "
                            f"({'jenis ' + ctype if ctype else 'jenis tidak dikenal'}); tidak diterima")
            continue
        evidence.append((name, content, ctype))
    # A party may have a snapshot at exactly this time already (the same file imported twice).
    if rows:
        existing = {(s.party_id, s.taken_at): s.import_id for s in ProgressSnapshot.select(
            ProgressSnapshot.party, ProgressSnapshot.taken_at, ProgressSnapshot.import_).where(
            ProgressSnapshot.taken_at.in_(sorted({r.taken_at for r in rows})))}
        for r in rows:
            if (r.party_id, r.taken_at) in existing:
                when = r.taken_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                problems.append(f"baris {r.line}: data {r.party_label} pada {when} sudah diimpor "
                                f"(impor #{existing[(r.party_id, r.taken_at)]})")
    if problems:
        raise ImportRejected(sorted(problems, key=_line_key))

    csv_sha, csv_path = archive.put(data, kind="progress", suffix=".csv")
    stored = []
    seen_sha: set[str] = set()
    for name, content, typed_as in evidence:
        sha, rel = archive.put(content, kind="evidence", suffix=_suffix(name))
        if sha in seen_sha:
            continue  # the same screenshot given twice
        seen_sha.add(sha)
        ctype = (typed_as if typed else None) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        stored.append((name, ctype, sha, len(content), rel))
    archive.sync()  # durable before the rows that point at them commit
    with db.atomic():
        imp = ProgressImport.create(filename=filename[:300], sha256=csv_sha, path=csv_path, rows=len(rows),
                                    imported_at=now, actor=actor)
        for r in rows:
            ProgressSnapshot.create(import_=imp, party=r.party_id, officials=r.officials, members=r.members,
                                    offices=r.offices, taken_at=r.taken_at, imported_at=now)
        for name, ctype, sha, size, rel in stored:
            Evidence.create(import_=imp, filename=name[:300], content_type=ctype, sha256=sha, size=size, path=rel)
            mirror.enqueue(path=rel, sha256=sha, size=size, name=name, now=now, zone=zone, kind="progres")
    log.info("progress import=%s file=%s rows=%d evidence=%d by %s", imp.id, filename, len(rows), len(stored), actor)
    return imp


def _line_key(problem: str) -> tuple[int, str]:
    m = re.match(r"baris (\d+):", problem)
    return (int(m.group(1)) if m else 10**9, problem)


# --- reading -----------------------------------------------------------------------------------


def latest_snapshots(before: datetime | None = None) -> dict[int, ProgressSnapshot]:
    """Per party id, the most recent state of Sipol known at `before`.

    "Known at" = imported at or before `before` (None: everything); "most recent" = the
    latest `taken_at` (a late import of an older reading does not replace a newer one).
    """
    q = ProgressSnapshot.select()
    if before is not None:
        q = q.where(ProgressSnapshot.imported_at <= before)
    best: dict[int, ProgressSnapshot] = {}
    for s in q.order_by(ProgressSnapshot.taken_at, ProgressSnapshot.id):
        best[s.party_id] = s
    return best


def previous_snapshot(party: Party | int, before: datetime, *, known_at: datetime | None = None) -> ProgressSnapshot | None:
    """The party's latest snapshot taken strictly before `before` (imported by `known_at`, if given)."""
    pid = party.id if isinstance(party, Party) else party
    q = ProgressSnapshot.select().where((ProgressSnapshot.party == pid) & (ProgressSnapshot.taken_at < before))
    if known_at is not None:
        q = q.where(ProgressSnapshot.imported_at <= known_at)
    return q.order_by(ProgressSnapshot.taken_at.desc(), ProgressSnapshot.id.desc()).first()


def evidence_since(since: datetime | None, until: datetime) -> list[Evidence]:
    """Evidence of the imports made after `since` (exclusive) up to `until` (inclusive)."""
    q = Evidence.select(Evidence, ProgressImport).join(ProgressImport).where(ProgressImport.imported_at <= until)
    if since is not None:
        q = q.where(ProgressImport.imported_at > since)
    return list(q.order_by(ProgressImport.imported_at, Evidence.id))


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
