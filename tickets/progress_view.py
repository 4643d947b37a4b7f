"""The progress dashboard's figures (issue 15 item 5, `/progress`): per party the latest Sipol
reading against the requirement, the change since the reading before it, who imported it and
when, and every reading of the registration period for the charts. Read-only; the import
itself is progress.py.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from .models import Party, ProgressImport, ProgressSnapshot

#: The figures, as the dashboard names them (ProgressSnapshot fields → Bahasa labels).
FIGURES: tuple[tuple[str, str], ...] = (("officials", "Pengurus"), ("members", "Anggota"), ("offices", "Kantor"))

#: What a party needs in one regency (UU 7/2017 Pasal 173 ayat 2): a board with at least its
#: chair, secretary and treasurer, 1,000 members (or 1/1,000 of the population, whichever the
#: KPU sets; 1,000 is the larger for Mesuji), and one permanent office.
REQUIREMENTS: Mapping[str, int] = MappingProxyType({"officials": 3, "members": 1000, "offices": 1})


def progress_dashboard(now: datetime, requirements: Mapping[str, int] = REQUIREMENTS) -> list[dict]:
    """Per party with at least one reading known at `now`, in ballot order:
    `latest` and `previous` readings, `delta` per figure (None without a previous reading),
    `met` per figure, the import's `actor` and `imported_at`, and `series`: every reading
    (taken_at order) for the charts."""
    snaps = list(ProgressSnapshot.select(ProgressSnapshot, ProgressImport)
                 .join(ProgressImport).where(ProgressSnapshot.imported_at <= now)
                 .order_by(ProgressSnapshot.taken_at, ProgressSnapshot.id))
    by_party: dict[int, list[ProgressSnapshot]] = defaultdict(list)
    for s in snaps:
        by_party[s.party_id].append(s)
    parties = {p.id: p for p in Party.select().where(Party.id.in_(list(by_party)))} if by_party else {}
    out = []
    for pid in sorted(by_party, key=lambda i: parties[i].number):
        series = by_party[pid]
        latest = series[-1]
        previous = series[-2] if len(series) > 1 else None
        out.append({
            "number": parties[pid].number, "short": parties[pid].short, "name": parties[pid].name,
            "latest": _reading(latest), "previous": _reading(previous) if previous else None,
            "delta": {f: (getattr(latest, f) - getattr(previous, f)) if previous else None for f, _ in FIGURES},
            "met": {f: getattr(latest, f) >= requirements[f] for f, _ in FIGURES},
            "actor": latest.import_.actor, "imported_at": latest.import_.imported_at,
            "import_id": latest.import_id, "filename": latest.import_.filename,
            "series": [_reading(s) for s in series],
        })
    return out


def _reading(s: ProgressSnapshot) -> dict:
    return {"taken_at": s.taken_at, "officials": s.officials, "members": s.members, "offices": s.offices}
