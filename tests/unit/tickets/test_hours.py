"""Service hours and SOP standards, as an officer would check them against the clock on the wall."""
from __future__ import annotations

import time as _time
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from kpudesk.tickets.hours import (
    STANDARDS,
    STEP_LABELS,
    Breach,
    ServiceCalendar,
    check_step,
    deadline,
    parse_days,
    parse_hours,
)

WIB = timezone(timedelta(hours=7))


def wib(y, mo, d, h=0, mi=0, s=0) -> datetime:
    """A wall-clock time in Mesuji, as the aware UTC instant the code receives."""
    return datetime(y, mo, d, h, mi, s, tzinfo=WIB).astimezone(UTC)


CAL = ServiceCalendar()  # SOP default: every day, 08:00-17:00 Asia/Jakarta

# 2022-08-14 was a Sunday (last day of party registration); 2022-08-15 a Monday.


# -- defaults and opening ---------------------------------------------------------------


def test_defaults_follow_the_sop():
    assert CAL.timezone == "Asia/Jakarta"
    assert (CAL.open_time, CAL.close_time) == (time(8), time(17))
    assert CAL.weekdays == frozenset(range(7))
    assert CAL.closures == frozenset()


def test_early_morning_is_closed_and_opening_is_inclusive():
    assert not CAL.is_open(wib(2022, 8, 15, 7, 0))
    assert not CAL.is_open(wib(2022, 8, 15, 7, 59, 59))
    assert CAL.is_open(wib(2022, 8, 15, 8, 0))
    assert CAL.is_open(wib(2022, 8, 15, 16, 59, 59))
    assert not CAL.is_open(wib(2022, 8, 15, 17, 0))  # closing instant is closed


def test_sunday_is_open_by_default():
    assert date(2022, 8, 14).weekday() == 6
    assert CAL.is_open(wib(2022, 8, 14, 10, 0))


def test_weekday_only_calendar_skips_the_weekend():
    cal = ServiceCalendar.from_strings(days="mon-fri")
    assert not cal.is_open(wib(2022, 8, 13, 10, 0))  # Saturday
    assert not cal.is_open(wib(2022, 8, 14, 10, 0))  # Sunday
    assert cal.next_open(wib(2022, 8, 13, 10, 0)) == wib(2022, 8, 15, 8, 0)
    # Friday 16:50 plus 30 minutes: 10 on Friday, 20 on Monday morning.
    assert cal.add_service_minutes(wib(2022, 8, 12, 16, 50), 30) == wib(2022, 8, 15, 8, 20)


def test_next_open_returns_the_instant_itself_when_open():
    at = wib(2022, 8, 15, 9, 30)
    assert CAL.next_open(at) == at
    assert CAL.next_open(wib(2022, 8, 15, 6, 0)) == wib(2022, 8, 15, 8, 0)
    assert CAL.next_open(wib(2022, 8, 15, 17, 0)) == wib(2022, 8, 16, 8, 0)
    assert CAL.next_open(wib(2022, 8, 15, 23, 59)) == wib(2022, 8, 16, 8, 0)
    assert CAL.next_open(at).tzinfo is not None
    assert CAL.next_open(wib(2022, 8, 15, 6, 0)).utcoffset() == timedelta(0)


def test_local_and_day_bounds():
    assert CAL.local(datetime(2022, 8, 15, 1, 0, tzinfo=UTC)).hour == 8
    assert CAL.day_bounds(date(2022, 8, 15)) == (wib(2022, 8, 15, 8), wib(2022, 8, 15, 17))
    cal = ServiceCalendar.from_strings(closures=["2022-08-17"])
    assert cal.day_bounds(date(2022, 8, 17)) is None


# -- measuring ----------------------------------------------------------------------------


def test_overnight_gap_does_not_count():
    # Arrived 16:55 WIB, answered 08:20 WIB the next morning: 5 + 20 minutes, not 15 hours.
    assert CAL.service_minutes(wib(2022, 8, 15, 16, 55), wib(2022, 8, 16, 8, 20)) == pytest.approx(25)


def test_mail_received_at_night_counts_from_opening():
    assert CAL.service_minutes(wib(2022, 8, 15, 22, 0), wib(2022, 8, 16, 8, 10)) == pytest.approx(10)


def test_within_one_day_and_reversed_interval():
    assert CAL.service_minutes(wib(2022, 8, 15, 9), wib(2022, 8, 15, 10, 30)) == pytest.approx(90)
    assert CAL.service_minutes(wib(2022, 8, 15, 10), wib(2022, 8, 15, 9)) == 0
    assert CAL.service_minutes(wib(2022, 8, 15, 10), wib(2022, 8, 15, 10)) == 0


def test_a_whole_open_day_is_nine_hours():
    assert CAL.service_minutes(wib(2022, 8, 15, 0), wib(2022, 8, 16, 0)) == pytest.approx(9 * 60)
    assert CAL.service_minutes(wib(2022, 8, 15, 0), wib(2022, 8, 22, 0)) == pytest.approx(7 * 9 * 60)


def test_closure_day_is_skipped():
    # 17 August (Independence Day) closed: 16 Aug 16:50 -> 18 Aug 08:10 is 10 + 10 minutes.
    cal = ServiceCalendar.from_strings(closures=["2022-08-17"])
    assert not cal.is_open(wib(2022, 8, 17, 10, 0))
    assert cal.service_minutes(wib(2022, 8, 16, 16, 50), wib(2022, 8, 18, 8, 10)) == pytest.approx(20)
    assert cal.add_service_minutes(wib(2022, 8, 16, 16, 50), 15) == wib(2022, 8, 18, 8, 5)
    assert cal.next_open(wib(2022, 8, 16, 18, 0)) == wib(2022, 8, 18, 8, 0)


def test_special_hours_extend_a_deadline_day():
    # Registration closed 14 Aug 2022 at 23:59 WIB: an office may stay open until midnight.
    cal = ServiceCalendar.from_strings(special_hours={"2022-08-14": "08:00-24:00"})
    assert cal.is_open(wib(2022, 8, 14, 23, 30))
    assert not cal.is_open(wib(2022, 8, 15, 0, 0))  # Monday 00:00 is back to normal hours
    assert cal.service_minutes(wib(2022, 8, 14, 23, 0), wib(2022, 8, 15, 8, 30)) == pytest.approx(90)


def test_special_hours_open_an_otherwise_closed_day():
    cal = ServiceCalendar.from_strings(days="mon-fri", special_hours={"2022-08-13": "09:00-12:00"})
    assert cal.is_open(wib(2022, 8, 13, 10, 0))
    assert not cal.is_open(wib(2022, 8, 13, 13, 0))


# -- deadlines -------------------------------------------------------------------------


def test_deadline_inside_the_day():
    assert CAL.add_service_minutes(wib(2022, 8, 15, 9, 0), 30) == wib(2022, 8, 15, 9, 30)


def test_deadline_rolls_over_the_night():
    assert CAL.add_service_minutes(wib(2022, 8, 15, 16, 55), 30) == wib(2022, 8, 16, 8, 25)


def test_deadline_for_mail_arriving_before_opening():
    assert CAL.add_service_minutes(wib(2022, 8, 15, 6, 12), 5) == wib(2022, 8, 15, 8, 5)


def test_deadline_that_exactly_fills_the_day_ends_at_closing():
    assert CAL.add_service_minutes(wib(2022, 8, 15, 16, 55), 5) == wib(2022, 8, 15, 17, 0)


def test_zero_minutes_is_the_start_and_negative_is_an_error():
    at = wib(2022, 8, 15, 20, 0)
    assert CAL.add_service_minutes(at, 0) == at
    with pytest.raises(ValueError):
        CAL.add_service_minutes(at, -1)


def test_deadline_and_measure_agree():
    start = wib(2022, 8, 15, 14, 7, 30)
    for minutes in (1, 30, 172.5, 540, 541, 2000):
        end = CAL.add_service_minutes(start, minutes)
        assert CAL.service_minutes(start, end) == pytest.approx(minutes)


def test_step_deadline_uses_the_standard():
    assert deadline("answer", wib(2022, 8, 15, 16, 45), CAL) == wib(2022, 8, 16, 8, 15)
    assert deadline("register", wib(2022, 8, 15, 9, 0), CAL) == wib(2022, 8, 15, 9, 5)


# -- SOP standards -----------------------------------------------------------------------


def test_standards_and_labels():
    assert dict(STANDARDS) == {"register": 5, "receive": 10, "answer": 30, "escalate": 15,
                               "record": 10, "document": 10}
    assert STEP_LABELS["answer"] == "Menjawab"
    assert STEP_LABELS["escalate"] == "Eskalasi"
    assert set(STEP_LABELS) == set(STANDARDS)


def test_answer_within_standard_is_no_breach():
    assert check_step("answer", wib(2022, 8, 15, 16, 55), wib(2022, 8, 16, 8, 20), CAL) is None
    # Exactly on the standard is still in time.
    assert check_step("answer", wib(2022, 8, 15, 9, 0), wib(2022, 8, 15, 9, 30), CAL) is None


def test_late_answer_is_a_breach_with_minutes_over():
    b = check_step("answer", wib(2022, 8, 15, 9, 0), wib(2022, 8, 15, 9, 45), CAL)
    assert isinstance(b, Breach)
    assert b.step == "answer" and b.label == "Menjawab"
    assert b.standard_minutes == 30
    assert b.actual_minutes == pytest.approx(45)
    assert b.over_minutes == pytest.approx(15)


def test_breach_counts_only_service_minutes():
    # Registered 16:58, finished 08:04 next day: 2 + 4 = 6 minutes, one over the 5 allowed.
    b = check_step("register", wib(2022, 8, 15, 16, 58), wib(2022, 8, 16, 8, 4), CAL)
    assert b is not None and b.over_minutes == pytest.approx(1)


def test_running_step_measured_to_now():
    start = wib(2022, 8, 15, 10, 0)
    assert check_step("escalate", start, None, CAL, now=wib(2022, 8, 15, 10, 10)) is None
    b = check_step("escalate", start, None, CAL, now=wib(2022, 8, 15, 10, 40))
    assert b is not None and b.over_minutes == pytest.approx(25)
    with pytest.raises(ValueError):
        check_step("escalate", start, None, CAL)


def test_custom_standards_and_unknown_step():
    start, end = wib(2022, 8, 15, 10, 0), wib(2022, 8, 15, 10, 45)
    assert check_step("answer", start, end, CAL, standards={**STANDARDS, "answer": 60}) is None
    with pytest.raises(ValueError, match="unknown SOP step"):
        check_step("reply", start, end, CAL)


# -- parsing -----------------------------------------------------------------------------


def test_from_strings_variants():
    cal = ServiceCalendar.from_strings(timezone="Asia/Jakarta", hours="08.00 s/d 16.00",
                                       days="mon,tue,sat", closures=["2026-12-25"])
    assert (cal.open_time, cal.close_time) == (time(8), time(16))
    assert cal.weekdays == frozenset({0, 1, 5})
    assert cal.closures == frozenset({date(2026, 12, 25)})
    assert parse_days("mon-sun") == frozenset(range(7))
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    assert parse_days("senin-jumat") == frozenset(range(5))
    assert parse_hours("08:00-24:00") == (time(8), time(0))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"hours": "8-17"}, "jam layanan"),
        ({"hours": "17:00-08:00"}, "sesudah jam buka"),
        ({"hours": "08:00-25:00"}, "bukan jam yang sah"),
        ({"days": "mon-fry"}, "hari tidak dikenal"),
        ({"days": ""}, "hari layanan"),
        ({"closures": ["25-12-2026"]}, "25-12-2026"),
        ({"timezone": "Asia/Mesuji"}, "zona waktu tidak dikenal"),
    ],
)
def test_from_strings_rejects_bad_input(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        ServiceCalendar.from_strings(**kwargs)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        CAL.is_open(datetime(2022, 8, 15, 9, 0))
    with pytest.raises(ValueError, match="aware"):
        CAL.service_minutes(datetime(2022, 8, 15, 9, 0), wib(2022, 8, 15, 10))


def test_non_utc_aware_input_gives_the_same_answer():
    at_utc = wib(2022, 8, 15, 16, 55)
    at_wib = at_utc.astimezone(WIB)
    assert CAL.add_service_minutes(at_wib, 30) == CAL.add_service_minutes(at_utc, 30)
    assert CAL.add_service_minutes(at_wib, 30).utcoffset() == timedelta(0)


def test_other_zone_calendar():
    cal = ServiceCalendar.from_strings(timezone="Asia/Jayapura")  # WIT, UTC+9
    assert cal.is_open(datetime(2022, 8, 15, 0, 0, tzinfo=UTC))  # 09:00 WIT
    assert not cal.is_open(datetime(2022, 8, 15, 8, 30, tzinfo=UTC))  # 17:30 WIT


def test_calendar_is_hashable_and_comparable():
    a = ServiceCalendar.from_strings(closures=["2022-08-17"])
    b = ServiceCalendar(closures={date(2022, 8, 17)})
    assert a == b and hash(a) == hash(b)


# -- host time zone independence ------------------------------------------------------


@pytest.mark.parametrize("host_tz", ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati"])
def test_results_do_not_depend_on_the_host_time_zone(monkeypatch, host_tz):
    monkeypatch.setenv("TZ", host_tz)
    _time.tzset()
    try:
        cal = ServiceCalendar.from_strings(closures=["2022-08-17"])
        assert not cal.is_open(wib(2022, 8, 15, 7, 0))
        assert cal.is_open(wib(2022, 8, 14, 10, 0))
        assert cal.service_minutes(wib(2022, 8, 15, 16, 55), wib(2022, 8, 16, 8, 20)) == pytest.approx(25)
        assert cal.add_service_minutes(wib(2022, 8, 16, 16, 50), 15) == wib(2022, 8, 18, 8, 5)
        assert cal.next_open(wib(2022, 8, 15, 20, 0)) == wib(2022, 8, 16, 8, 0)
        assert cal.day_bounds(date(2022, 8, 15)) == (wib(2022, 8, 15, 8), wib(2022, 8, 15, 17))
        b = check_step("answer", wib(2022, 8, 15, 16, 50), wib(2022, 8, 16, 8, 30), cal)
        assert b is not None and b.over_minutes == pytest.approx(10)
    finally:
        monkeypatch.undo()
        _time.tzset()


def test_zone_with_daylight_saving_still_counts_local_hours():
    # Not needed for WIB, but the arithmetic must stay in local wall-clock hours.
    cal = ServiceCalendar.from_strings(timezone="Europe/Amsterdam")
    opens, closes = cal.day_bounds(date(2022, 3, 27))  # clocks go forward that night
    assert (opens, closes) == (datetime(2022, 3, 27, 6, 0, tzinfo=UTC), datetime(2022, 3, 27, 15, 0, tzinfo=UTC))
    assert cal.service_minutes(datetime(2022, 3, 26, 0, 0, tzinfo=UTC),
                               datetime(2022, 3, 28, 0, 0, tzinfo=UTC)) == pytest.approx(2 * 9 * 60)


@pytest.mark.parametrize(
    "days, label",
    [("mon-sun", "Senin–Minggu"), ("mon-fri", "Senin–Jumat"), ("fri-mon", "Jumat–Senin"),
     ("sat,sun", "Sabtu dan Minggu"), ("mon,wed,fri", "Senin, Rabu dan Jumat"), ("tue", "Selasa")],
)
def test_days_label_in_indonesian(days, label):
    assert ServiceCalendar.from_strings(days=days).days_label() == label


def test_hours_label_in_indonesian():
    assert CAL.hours_label() == "08.00–17.00 WIB"
    assert ServiceCalendar.from_strings(hours="07:30-24:00", timezone="Asia/Makassar").hours_label() == "07.30–24.00 WITA"
