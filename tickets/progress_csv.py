"""The Sipol progress CSV (docs/progress-csv.md) as officers type it in a spreadsheet:
header names in Bahasa Indonesia with variants, ";" or "," or tab, Indonesian number
grouping ("1.234"), local times; parsed into checked rows, every problem with its line.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .errors import UserError
from .models import Party


class ImportRejected(UserError):
    """The CSV (or its evidence) has problems; nothing was stored. `.problems` lists them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("impor progres dibatalkan, tidak ada data yang disimpan:\n"
                         + "\n".join(f"  {p}" for p in self.problems))


#: Column -> accepted header names (compared case-insensitively, spaces collapsed).
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "partai": ("partai", "parpol", "partai politik", "nama partai"),
    "pengurus": ("pengurus", "kepengurusan", "jumlah pengurus"),
    "anggota": ("anggota", "keanggotaan", "jumlah anggota"),
    "kantor": ("kantor", "kantor tetap", "jumlah kantor"),
    "waktu": ("waktu", "waktu data", "waktu snapshot"),
}
REQUIRED = ("partai", "pengurus", "anggota", "kantor")
MAX_COUNT = 10_000_000  # far above any party's membership in one regency
FUTURE_SLACK = timedelta(minutes=5)  # clocks differ a little; more than this is a typo

_INT_RE = re.compile(r"\d+")
_GROUPED_RE = re.compile(r"\d{1,3}(?:([.,\u00a0 ])\d{3})(?:\1\d{3})*")
_LOCAL_FORMATS = (
    "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H.%M",
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H.%M",
    "%d-%m-%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H.%M",
)


@dataclass(frozen=True)
class Row:
    line: int
    party_id: int
    party_label: str
    officials: int
    members: int
    offices: int
    taken_at: datetime


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").strip().lower().split())


def parse_count(text: str) -> int:
    """A non-negative integer as typed in Indonesia or by Excel: "1234", "1.234", "1,234", "1 234"."""
    t = (text or "").strip().replace("\u00a0", " ")
    if not t:
        raise ValueError("kosong")
    if t.startswith("-"):
        raise ValueError(f"{t!r} negatif")
    if _INT_RE.fullmatch(t):
        n = int(t)
    elif _GROUPED_RE.fullmatch(t):
        n = int(re.sub(r"[.,\u00a0 ]", "", t))
    else:
        raise ValueError(f"{t!r} bukan bilangan bulat")
    if n > MAX_COUNT:
        raise ValueError(f"{t!r} terlalu besar")
    return n


def parse_when(text: str, zone: ZoneInfo) -> datetime:
    """'YYYY-MM-DD HH:MM' (also DD/MM/YYYY, HH.MM) in the helpdesk zone, or ISO 8601 with an offset."""
    t = " ".join((text or "").strip().split())
    for fmt in _LOCAL_FORMATS:
        try:
            return datetime.strptime(t, fmt).replace(tzinfo=zone).astimezone(UTC)
        except ValueError:
            continue
    try:
        value = datetime.fromisoformat(t.replace("Z", "+00:00") if t.endswith("Z") else t)
    except ValueError:
        raise ValueError(f"waktu {t!r} tidak dikenali (gunakan YYYY-MM-DD HH:MM, mis. 2026-11-27 07:45)") from None
    if "T" not in t and " " not in t:
        raise ValueError(f"waktu {t!r} tidak memuat jam (gunakan YYYY-MM-DD HH:MM)")
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected([f"baris {line}: berkas bukan teks UTF-8 (simpan dari Excel sebagai "
                              f"\"CSV UTF-8 (Comma delimited)\")"]) from None


def _delimiter(header_line: str) -> str:
    """The header decides: Indonesian Excel writes ';', others ','; tabs are accepted too."""
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: (counts[d], d == ";"))
    return best if counts[best] else ","


class _PartyIndex:
    def __init__(self, aliases: Mapping[str, int] | None) -> None:
        self.by_key: dict[str, Party] = {}
        self.by_number: dict[int, Party] = {}
        for p in Party.select():
            self.by_number[p.number] = p
            for key in (p.short, p.name):
                self.by_key.setdefault(_norm(key), p)
        for alias, number in (aliases or {}).items():
            p = self.by_number.get(number)
            if p is not None:
                self.by_key.setdefault(_norm(alias), p)

    def find(self, text: str) -> Party | None:
        t = _norm(text)
        if not t:
            return None
        number = t.removeprefix("no.").removeprefix("no").strip()
        if number.isdigit():
            return self.by_number.get(int(number))
        p = self.by_key.get(t)
        if p is None and not t.startswith("partai "):
            p = self.by_key.get("partai " + t)
        if p is None and t.startswith("partai "):
            p = self.by_key.get(t[len("partai "):])
        return p


def parse_csv(text: str, *, zone: ZoneInfo, now: datetime, aliases: Mapping[str, int] | None = None) -> list[Row]:
    """Check every row; return them all, or raise ImportRejected listing every problem."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ImportRejected(["baris 1: berkas CSV kosong"])
    delim = _delimiter(lines[first])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header: list[str] | None = None
    header_line = 0
    prev_end = 0
    problems: list[str] = []
    cols: dict[str, int] = {}
    rows: list[Row] = []
    seen: dict[int, int] = {}
    parties = _PartyIndex(aliases)
    try:
        for record in reader:
            line = prev_end + 1
            prev_end = reader.line_num
            if not any(c.strip() for c in record):
                continue
            if header is None:
                header, header_line = record, line
                cols, bad = _columns(record)
                if bad:
                    raise ImportRejected([f"baris {line}: {b}" for b in bad])
                continue
            row, errs = _row(record, line, cols, len(header), parties, zone, now)
            if errs:
                problems += [f"baris {line}: {e}" for e in errs]
                continue
            if row.party_id in seen:
                problems.append(f"baris {line}: partai {row.party_label} sudah ada di baris {seen[row.party_id]}")
                continue
            seen[row.party_id] = line
            rows.append(row)
    except csv.Error as exc:
        problems.append(f"baris {reader.line_num}: format CSV rusak ({exc})")
    if header is None:
        raise ImportRejected(["baris 1: berkas CSV kosong"])
    if not rows and not problems:
        problems.append(f"baris {header_line + 1}: tidak ada baris data setelah judul kolom")
    if problems:
        raise ImportRejected(problems)
    return rows


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    names = {alias: col for col, aliases in COLUMNS.items() for alias in aliases}
    cols: dict[str, int] = {}
    problems: list[str] = []
    for i, cell in enumerate(header):
        col = names.get(_norm(cell))
        if col is None:
            continue  # extra columns (No, Keterangan, ...) are ignored
        if col in cols:
            problems.append(f"kolom {col!r} muncul dua kali pada judul kolom")
        cols[col] = i
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        found = ", ".join(repr(c.strip()) for c in header if c.strip()) or "(tidak ada)"
        problems.append(f"judul kolom wajib tidak ada: {', '.join(missing)} (ditemukan: {found}); "
                        f"baris pertama harus berisi judul kolom partai, pengurus, anggota, kantor[, waktu]")
    return cols, problems


def _row(record: list[str], line: int, cols: dict[str, int], width: int, parties: _PartyIndex,
         zone: ZoneInfo, now: datetime) -> tuple[Row | None, list[str]]:
    errs: list[str] = []

    def cell(name: str) -> str:
        i = cols.get(name)
        return record[i].strip() if i is not None and i < len(record) else ""

    extra = [c for c in record[width:] if c.strip()]
    if extra:
        errs.append(f"ada {len(record)} kolom, sedangkan judul kolom hanya {width} "
                    f"(angka dengan koma harus diberi tanda kutip, atau gunakan pemisah ';')")
    label = cell("partai")
    party = parties.find(label)
    if not label:
        errs.append("kolom partai kosong")
    elif party is None:
        errs.append(f"partai {label!r} tidak dikenal (gunakan singkatan, nama lengkap, atau nomor urut)")
    counts: dict[str, int] = {}
    for name in ("pengurus", "anggota", "kantor"):
        try:
            counts[name] = parse_count(cell(name))
        except ValueError as exc:
            errs.append(f"kolom {name} {exc}" if str(exc) == "kosong" else f"kolom {name}: {exc}")
    taken_at = now
    if cell("waktu"):
        try:
            taken_at = parse_when(cell("waktu"), zone)
        except ValueError as exc:
            errs.append(f"kolom waktu: {exc}")
        else:
            if taken_at > now + FUTURE_SLACK:
                local = taken_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                errs.append(f"kolom waktu: {local} masih di masa depan")
    if errs:
        return None, errs
    assert party is not None
    return Row(line=line, party_id=party.id, party_label=party.short, officials=counts["pengurus"],
               members=counts["anggota"], offices=counts["kantor"], taken_at=taken_at), []
