"""Service hours and the SOP time standards, measured in service time.

The helpdesk SOP counts time only while the office is open (by default every day,
Monday to Sunday, 08:00-17:00 WIB). A mail that arrives at 16:55 and is answered at 08:20
the next morning took 25 service minutes, not 15 hours.

Everything here is pure: callers pass aware datetimes (UTC by convention) and get aware
UTC datetimes back. Local time exists only inside this module, always through `zoneinfo`
and never through the host's time zone, so results do not depend on the machine's TZ.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .hours_parse import MIDNIGHT, check_window, parse_date, parse_days, parse_hours

__all__ = [
    "STANDARDS",
    "STEP_LABELS",
    "Breach",
    "ServiceCalendar",
    "check_step",
    "deadline",
    "parse_days",
    "parse_hours",
]

#: SOP time standards per step, in service minutes.
STANDARDS: Mapping[str, int] = MappingProxyType({
    "register": 5,
    "receive": 10,
    "answer": 30,
    "escalate": 15,
    "record": 10,
    "document": 10,
})

#: The SOP's own (Indonesian) name for each step, for reports and templates.
STEP_LABELS: Mapping[str, str] = MappingProxyType({
    "register": "Registrasi",
    "receive": "Penerimaan",
    "answer": "Menjawab",
    "escalate": "Eskalasi",
    "record": "Pencatatan",
    "document": "Dokumentasi",
})

_ONE_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
# How many consecutive closed days we walk before deciding the calendar never opens again.
_MAX_CLOSED_DAYS = 3660

_ID_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_ZONE_LABELS = {
    "Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA", "Asia/Ujung_Pandang": "WITA",
    "Asia/Jayapura": "WIT",
}
def _require_aware(at: datetime, name: str) -> datetime:
    if not isinstance(at, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC); naive datetimes are ambiguous")
    return at.astimezone(UTC)


@dataclass(frozen=True)
class ServiceCalendar:
    """When the helpdesk is open.

    - `timezone`: IANA name of the helpdesk's zone.
    - `open_time` / `close_time`: daily hours, local; a `close_time` of 00:00 means "until
      midnight" (written "24:00" in strings).
    - `weekdays`: open days, Monday=0 ... Sunday=6 (the SOP: every day).
    - `closures`: local dates when the office is closed (holidays, cuti bersama).
    - `special_hours`: local dates with other hours, e.g. extended hours on a deadline
      day, or a Saturday opening in a Monday-Friday calendar. Given as a mapping
      {date: (open, close)} or pairs; stored as a sorted tuple of (date, open, close).
    """

    timezone: str = "Asia/Jakarta"
    open_time: time = time(8, 0)
    close_time: time = time(17, 0)
    weekdays: frozenset[int] = frozenset(range(7))
    closures: frozenset[date] = frozenset()
    special_hours: tuple[tuple[date, time, time], ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, str) or not self.timezone:
            raise ValueError(f"zona waktu harus nama IANA seperti 'Asia/Jakarta', bukan {self.timezone!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"zona waktu tidak dikenal: {self.timezone!r} (mis. 'Asia/Jakarta')") from None
        for name in ("open_time", "close_time"):
            v = getattr(self, name)
            if not isinstance(v, time) or v.tzinfo is not None:
                raise ValueError(f"{name} must be a naive local time of day, got {v!r}")
        check_window(self.open_time, self.close_time, what="jam layanan")

        weekdays = frozenset(self.weekdays)
        if any(not isinstance(d, int) or not 0 <= d <= 6 for d in weekdays):
            raise ValueError(f"weekdays must be numbers 0 (Monday) to 6 (Sunday), got {sorted(weekdays)!r}")
        object.__setattr__(self, "weekdays", weekdays)

        if isinstance(self.closures, (str, date)):
            raise ValueError(f"tanggal libur harus berupa kumpulan tanggal, bukan {self.closures!r}")
        closures = frozenset(parse_date(d, what="tanggal libur") for d in self.closures)
        object.__setattr__(self, "closures", closures)

        raw = self.special_hours
        items: Iterable = raw.items() if isinstance(raw, Mapping) else raw
        special: dict[date, tuple[time, time]] = {}
        for item in items:
            if isinstance(item, tuple) and len(item) == 2:
                d, hours = item
                if isinstance(hours, str):
                    o, c = parse_hours(hours, what=f"jam khusus {d}")
                else:
                    o, c = hours
            elif isinstance(item, tuple) and len(item) == 3:
                d, o, c = item
            else:
                raise ValueError(f"jam khusus: {item!r} bukan (tanggal, buka, tutup)")
            d = parse_date(d, what="tanggal jam khusus")
            if not isinstance(o, time) or not isinstance(c, time):
                raise ValueError(f"jam khusus {d}: buka dan tutup harus berupa jam")
            check_window(o, c, what=f"jam khusus {d}")
            if d in special:
                raise ValueError(f"jam khusus {d} disebut dua kali")
            if d in closures:
                raise ValueError(f"{d} sekaligus hari libur dan hari dengan jam khusus")
            special[d] = (o, c)
        object.__setattr__(self, "special_hours", tuple((d, o, c) for d, (o, c) in sorted(special.items())))
        if not weekdays and not special:
            raise ValueError("kalender layanan tidak punya hari buka")

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_strings(
        cls,
        timezone: str = "Asia/Jakarta",
        hours: str = "08:00-17:00",
        days: str = "mon-sun",
        closures: Iterable[str | date] | str = (),
        special_hours: Mapping[str | date, str] | None = None,
    ) -> ServiceCalendar:
        """Build a calendar from settings-file strings; raises ValueError naming the bad value.

        `closures` are ISO dates ("2026-12-25"); a single comma-separated string also works.
        `special_hours` maps ISO dates to hour ranges, e.g. {"2022-08-14": "08:00-24:00"}.
        """
        opens, closes = parse_hours(hours)
        weekdays = parse_days(days)
        if isinstance(closures, str):
            closures = [c for c in closures.split(",") if c.strip()]
        try:
            closure_dates = frozenset(parse_date(c, what="tanggal libur") for c in closures)
        except TypeError:
            raise ValueError(f"tanggal libur harus berupa daftar tanggal (TTTT-BB-HH), bukan {closures!r}") from None
        special: dict[date, tuple[time, time]] = {}
        for d, h in (special_hours or {}).items():
            dd = parse_date(d, what="tanggal jam khusus")
            special[dd] = parse_hours(h, what=f"jam khusus {dd}")
        return cls(
            timezone=timezone.strip() if isinstance(timezone, str) else timezone,
            open_time=opens,
            close_time=closes,
            weekdays=weekdays,
            closures=closure_dates,
            special_hours=tuple((d, o, c) for d, (o, c) in special.items()),
        )

    # -- basics -----------------------------------------------------------------------

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _special(self) -> dict[date, tuple[time, time]]:
        return {d: (o, c) for d, o, c in self.special_hours}

    def local(self, at: datetime) -> datetime:
        """`at` in the helpdesk's zone (aware)."""
        return _require_aware(at, "at").astimezone(self.zone)

    def hours_on(self, local_date: date) -> tuple[time, time] | None:
        """Local (open, close) on a date, or None when the office is closed that day."""
        if isinstance(local_date, datetime) or not isinstance(local_date, date):
            raise TypeError(f"expected a date, got {local_date!r}")
        if local_date in self.closures:
            return None
        special = self._special.get(local_date)
        if special is not None:
            return special
        if local_date.weekday() in self.weekdays:
            return self.open_time, self.close_time
        return None

    def day_bounds(self, local_date: date) -> tuple[datetime, datetime] | None:
        """(open, close) of a local date as UTC instants, or None when closed that day."""
        hours = self.hours_on(local_date)
        if hours is None:
            return None
        opens, closes = hours
        zone = self.zone
        start = datetime.combine(local_date, opens, tzinfo=zone)
        if closes == MIDNIGHT:
            end = datetime.combine(local_date + _ONE_DAY, MIDNIGHT, tzinfo=zone)
        else:
            end = datetime.combine(local_date, closes, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    # -- labels for mail and reports (Bahasa Indonesia) ------------------------------

    def hours_label(self) -> str:
        """Daily hours as written in Indonesian mail: "08.00–17.00 WIB"."""
        close = "24.00" if self.close_time == MIDNIGHT else self.close_time.strftime("%H.%M")
        zone = _ZONE_LABELS.get(self.timezone, self.timezone)
        return f"{self.open_time.strftime('%H.%M')}–{close} {zone}"

    def days_label(self) -> str:
        """Open weekdays in Indonesian: "Senin–Minggu", "Senin–Jumat", "Sabtu dan Minggu"."""
        days = sorted(self.weekdays)
        if not days:
            return "sesuai jadwal khusus"
        if len(days) == 7:
            return f"{_ID_DAYS[0]}–{_ID_DAYS[6]}"
        if len(days) >= 3:
            # One unbroken (possibly wrapping) run of days reads as a range.
            for first in days:
                if (first - 1) % 7 in self.weekdays:
                    continue  # not where a run starts
                run = [(first + i) % 7 for i in range(len(days))]
                if set(run) == set(days):
                    return f"{_ID_DAYS[run[0]]}–{_ID_DAYS[run[-1]]}"
        names = [_ID_DAYS[d] for d in days]
        if len(names) == 1:
            return names[0]
        return ", ".join(names[:-1]) + " dan " + names[-1]

    # -- questions --------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """True while the office is open (opening instant included, closing instant excluded)."""
        at_utc = _require_aware(at, "at")
        bounds = self.day_bounds(self.local(at_utc).date())
        return bounds is not None and bounds[0] <= at_utc < bounds[1]

    def next_open(self, at: datetime) -> datetime:
        """The moment (UTC) the office is next open: `at` itself when open now."""
        at_utc = _require_aware(at, "at")
        day = self.local(at_utc).date()
        for _ in range(_MAX_CLOSED_DAYS):
            bounds = self.day_bounds(day)
            if bounds is not None and at_utc < bounds[1]:
                return max(at_utc, bounds[0])
            day += _ONE_DAY
        raise ValueError(f"the office does not open within {_MAX_CLOSED_DAYS} days of {at_utc.isoformat()}")

    def service_time(self, start: datetime, end: datetime) -> timedelta:
        """Service time between two instants (zero when end <= start)."""
        s = _require_aware(start, "start")
        e = _require_aware(end, "end")
        total = timedelta()
        if e <= s:
            return total
        day = self.local(s).date()
        last = self.local(e).date()
        while day <= last:
            bounds = self.day_bounds(day)
            if bounds is not None:
                lo, hi = max(bounds[0], s), min(bounds[1], e)
                if hi > lo:
                    total += hi - lo
            day += _ONE_DAY
        return total

    def service_minutes(self, start: datetime, end: datetime) -> float:
        """Minutes of service hours between two instants (0.0 when end <= start)."""
        return self.service_time(start, end) / _MINUTE

    def add_service_minutes(self, start: datetime, minutes: float) -> datetime:
        """The instant (UTC) at which `minutes` of service time have elapsed after `start`.

        Time outside service hours does not count: 10 minutes from 16:55 WIB is 08:05 WIB
        the next open day. Exactly filling a day ends at its closing time (16:55 + 5 min is
        17:00, not the next morning). Zero minutes returns `start`.
        """
        cur = _require_aware(start, "start")
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not math.isfinite(minutes):
            raise ValueError(f"minutes must be a finite number, got {minutes!r}")
        if minutes < 0:
            raise ValueError(f"minutes must not be negative, got {minutes!r}")
        remaining = timedelta(minutes=minutes)
        if remaining <= timedelta():
            return cur
        day = self.local(cur).date()
        closed_run = 0
        while closed_run < _MAX_CLOSED_DAYS:
            bounds = self.day_bounds(day)
            if bounds is not None and cur < bounds[1]:
                closed_run = 0
                begin = max(cur, bounds[0])
                available = bounds[1] - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
                cur = bounds[1]
            else:
                closed_run += 1
            day += _ONE_DAY
        raise ValueError(f"the office does not open within {_MAX_CLOSED_DAYS} days")


# -- SOP standards ---------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    """A step that took longer than its SOP standard (all values in service minutes)."""

    step: str
    standard_minutes: float
    actual_minutes: float
    over_minutes: float

    @property
    def label(self) -> str:
        """Indonesian step name, e.g. "Menjawab"."""
        return STEP_LABELS.get(self.step, self.step)


def _standard(step: str, standards: Mapping[str, float]) -> float:
    try:
        value = standards[step]
    except KeyError:
        known = ", ".join(sorted(standards))
        raise ValueError(f"unknown SOP step {step!r} (known: {known})") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"SOP standard for {step!r} must be a non-negative number of minutes, got {value!r}")
    return value


def deadline(
    step: str, start: datetime, calendar: ServiceCalendar, standards: Mapping[str, float] = STANDARDS
) -> datetime:
    """When `step`, started at `start`, is due under its standard (UTC)."""
    return calendar.add_service_minutes(start, _standard(step, standards))


def check_step(
    step: str,
    start: datetime,
    end: datetime | None,
    calendar: ServiceCalendar,
    standards: Mapping[str, float] = STANDARDS,
    *,
    now: datetime | None = None,
) -> Breach | None:
    """A `Breach` when `step` took (or, still running, has taken) more service minutes than its standard.

    `end` None means the step is still running: pass `now` (from the Clock) to measure up
    to the present. Exactly the standard is not a breach.
    """
    limit = _standard(step, standards)
    if end is None:
        if now is None:
            raise ValueError(f"step {step!r} is still running (end is None): pass now=")
        end = now
    actual = calendar.service_minutes(start, end)
    if actual <= limit:
        return None
    return Breach(step=step, standard_minutes=limit, actual_minutes=actual, over_minutes=actual - limit)
