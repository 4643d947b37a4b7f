"""Service hours, open days and dates as written in settings.toml: "08:00-17:00",
"mon-sun" / "senin-jumat", "2026-12-25", parsed into times, weekday numbers and dates.

Every refusal is a ValueError in Bahasa Indonesia naming the value, because it reaches the
administrator through `kpudesk check` (as a settings error).
"""
from __future__ import annotations

import re
from datetime import date, datetime, time

MIDNIGHT = time(0, 0)  # a closing time of 00:00 is the midnight that ends the day

_DAY_NAMES = {
    # English
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
    # Bahasa Indonesia
    "senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "jum'at": 4,
    "sabtu": 5, "minggu": 6, "ahad": 6,
}
_ALL_DAYS = {"daily", "everyday", "all", "setiap hari", "tiap hari"}

_TIME_RE = re.compile(r"\s*(\d{1,2})[:.](\d{2})\s*")
_RANGE_SPLIT_RE = re.compile(r"\s*(?:-|–|—|s/d|s\.d\.?|sampai|until|to)\s*", re.IGNORECASE)


def _parse_time(text: str, *, allow_24: bool, what: str) -> time:
    m = _TIME_RE.fullmatch(text)
    if not m:
        raise ValueError(f"{what}: {text.strip()!r} bukan jam (tulis JJ:MM, mis. 08:00)")
    hh, mm = int(m.group(1)), int(m.group(2))
    if allow_24 and (hh, mm) == (24, 0):
        return MIDNIGHT  # the midnight that ends the day
    if hh > 23 or mm > 59:
        raise ValueError(f"{what}: {text.strip()!r} bukan jam yang sah")
    return time(hh, mm)


def parse_hours(text: str, *, what: str = "jam layanan") -> tuple[time, time]:
    """Parse "08:00-17:00" (also "08.00-17.00", "08:00 s/d 17:00", "08:00-24:00").

    Returns (open, close); a close of 00:00 means midnight at the end of the day.
    """
    if not isinstance(text, str):
        raise ValueError(f"{what}: harus berupa teks seperti '08:00-17:00', bukan {text!r}")
    parts = _RANGE_SPLIT_RE.split(text.strip())
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{what}: {text!r} harus seperti '08:00-17:00'")
    opens = _parse_time(parts[0], allow_24=False, what=what)
    closes = _parse_time(parts[1], allow_24=True, what=what)
    check_window(opens, closes, what=f"{what} {text!r}")
    return opens, closes


def parse_days(text: str) -> frozenset[int]:
    """Parse open weekdays: "mon-sun", "mon-fri", "mon,tue,sat", "fri-mon", "senin-jumat", "daily".

    Returns weekday numbers (Monday=0 ... Sunday=6). Ranges may wrap around the week end.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"hari layanan: harus seperti 'mon-sun' atau 'mon,tue,sat', bukan {text!r}")
    spec = text.strip().lower()
    if spec in _ALL_DAYS:
        return frozenset(range(7))
    days: set[int] = set()
    for item in spec.split(","):
        item = item.strip()
        if not item:
            raise ValueError(f"hari layanan {text!r}: ada butir kosong")
        ends = [p.strip() for p in re.split(r"\s*[-–]\s*", item)]
        if len(ends) > 2:
            raise ValueError(f"hari layanan {text!r}: {item!r} bukan hari atau rentang seperti 'mon-fri'")
        nums = []
        for e in ends:
            if e not in _DAY_NAMES:
                raise ValueError(
                    f"hari layanan {text!r}: hari tidak dikenal {e!r} (pakai mon, tue, wed, thu, fri, sat, sun "
                    "atau senin ... minggu)"
                )
            nums.append(_DAY_NAMES[e])
        if len(nums) == 1:
            days.add(nums[0])
        else:
            d = nums[0]
            days.add(d)
            while d != nums[1]:
                d = (d + 1) % 7
                days.add(d)
    return frozenset(days)


def parse_date(value: object, *, what: str) -> date:
    """An ISO date ("2026-12-25") or a date; `what` names it in the message."""
    if isinstance(value, datetime):
        raise ValueError(f"{what}: harus tanggal saja, bukan tanggal dan jam {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{what}: {value!r} bukan tanggal (tulis TTTT-BB-HH, mis. 2026-12-25)")


def check_window(opens: time, closes: time, *, what: str) -> None:
    """Opening hours within one day: closing after opening, or at the midnight ending it."""
    if closes != MIDNIGHT and closes <= opens:
        raise ValueError(f"{what}: jam tutup harus sesudah jam buka (jam layanan melewati tengah malam tidak didukung)")
