# ruff: noqa: RUF001  (the messages write ranges with an en dash, as people do)
"""Cron schedules (jupyter_jobs/cron.py): parsing, refusals in the user's words, the next
occurrence in a time zone — across the DST changes of Europe/Berlin and America/New_York — and
the plain-language description."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from jupyter_jobs import cron
from jupyter_jobs.exceptions import BadRequest

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def nexts(text: str, tz, start: datetime, n: int) -> list[datetime]:
    expr = cron.parse(text)
    out, t = [], start
    for _ in range(n):
        t = cron.next_after(expr, tz, t)
        assert t is not None
        out.append(t)
    return out


def local(ts: list[datetime], tz) -> list[str]:
    return [t.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") for t in ts]


@pytest.mark.parametrize(
    "text,minutes,hours,days,months,weekdays",
    [
        ("* * * * *", range(60), range(24), range(1, 32), range(1, 13), range(7)),
        (
            "*/15 9-17/4 1,15 JAN-mar mon-FRI",
            [0, 15, 30, 45],
            [9, 13, 17],
            [1, 15],
            [1, 2, 3],
            [1, 2, 3, 4, 5],
        ),
        ("5/20 0 * * 7", [5, 25, 45], [0], range(1, 32), range(1, 13), [0]),
        ("0 0 * * 0,7", [0], [0], range(1, 32), range(1, 13), [0]),
        ("@hourly", [0], range(24), range(1, 32), range(1, 13), range(7)),
        ("@weekly", [0], [0], range(1, 32), range(1, 13), [0]),
        ("@MONTHLY", [0], [0], [1], range(1, 13), range(7)),
    ],
)
def test_fields_parse_to_their_values(text, minutes, hours, days, months, weekdays):
    c = cron.parse(text)
    assert list(c.minutes) == list(minutes)
    assert list(c.hours) == list(hours)
    assert sorted(c.days) == list(days)
    assert sorted(c.months) == list(months)
    assert sorted(c.weekdays) == list(weekdays)


@pytest.mark.parametrize(
    "text,words",
    [
        ("61 * * * *", "Schedule: '61 * * * *' — minute 61 is out of range 0–59"),
        ("* 24 * * *", "hour 24 is out of range 0–23"),
        ("* * 0 * *", "day of the month 0 is out of range 1–31"),
        ("* * * 13 *", "month 13 is out of range 1–12"),
        ("* * * * 8", "day of the week 8 is out of range 0–7"),
        ("* * * * FUN", "'FUN' is not a day of the week: use 0–7 (or MON..SUN)"),
        ("* * * FOO *", "'FOO' is not a month: use 1–12 (or JAN..DEC)"),
        ("0 6 * *", "a schedule has 5 fields"),
        ("0 6 * * * *", "a schedule has 5 fields"),
        ("10-5 * * * *", "the range '10-5' of the minute runs backwards"),
        ("*/0 * * * *", "the step of '*/0' must be 1–59"),
        ("1,,2 * * * *", "'' is not a minute"),
        ("@reboot", "unknown alias"),
        ("0 0 30 2 *", "no month has that day, so it never runs"),
        ("٣ * * * *", "is not a minute"),
    ],
)
def test_bad_schedules_are_refused_in_the_users_words(text, words):
    with pytest.raises(BadRequest) as e:
        cron.parse(text)
    assert words in e.value.message and e.value.field == "schedule"


@pytest.mark.parametrize("value", [None, 5, ["0 6 * * *"], "x" * 201])
def test_a_schedule_must_be_short_text(value):
    with pytest.raises(BadRequest) as e:
        cron.parse(value)
    assert e.value.field == "schedule" and e.value.message.startswith("Schedule")


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "/etc/localtime", "", 3, None])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(BadRequest) as e:
        cron.timezone_of(name)
    assert e.value.field == "timezone" and e.value.message.startswith("Time zone")


def test_next_after_is_strictly_after():
    c = cron.parse("0 6 * * *")
    t = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # 06:00 in Berlin (CEST)
    assert cron.next_after(c, BERLIN, t) == datetime(2026, 6, 2, 4, 0, tzinfo=UTC)
    assert cron.next_after(c, BERLIN, t - timedelta(seconds=1)) == t


def test_weekdays_in_a_time_zone():
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # a Friday
    assert local(nexts("0 6 * * 1-5", BERLIN, start, 3), BERLIN) == [
        "2026-12-07 06:00 CET",
        "2026-12-08 06:00 CET",
        "2026-12-09 06:00 CET",
    ]


def test_day_of_month_or_day_of_week_when_both_are_restricted():
    # Vixie cron: the 13th of the month OR any Friday (13 December 2026 is a Sunday)
    start = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    days = [t.strftime("%d %a") for t in nexts("0 12 13 * FRI", UTC, start, 5)]
    assert days == ["04 Fri", "11 Fri", "13 Sun", "18 Fri", "25 Fri"]
    # a restricted day of the month with "*" for the weekday: that day only
    assert [t.strftime("%m-%d") for t in nexts("0 12 13 * *", UTC, start, 2)] == ["12-13", "01-13"]
    # "*/2" starts with "*", so it counts as unrestricted: the weekday alone decides
    got = nexts("0 12 */2 * MON", UTC, start, 4)
    assert [t.strftime("%d %a") for t in got] == ["07 Mon", "14 Mon", "21 Mon", "28 Mon"]


def test_spring_forward_in_berlin_fires_at_the_end_of_the_gap():
    # 29 March 2026: 02:00 CET -> 03:00 CEST; 02:30 does not exist
    start = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert local(nexts("30 2 * * *", BERLIN, start, 3), BERLIN) == [
        "2026-03-29 03:00 CEST",
        "2026-03-30 02:30 CEST",
        "2026-03-31 02:30 CEST",
    ]
    # every quarter of hour 2: the whole hour is skipped; it fires once, at 03:00, then 03:15
    got = local(nexts("*/15 2,3 * * *", BERLIN, datetime(2026, 3, 29, 0, 0, tzinfo=UTC), 3), BERLIN)
    assert got == ["2026-03-29 03:00 CEST", "2026-03-29 03:15 CEST", "2026-03-29 03:30 CEST"]


def test_spring_forward_in_new_york():
    # 8 March 2026: 02:00 EST -> 03:00 EDT
    start = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert local(nexts("15 2 * * *", NEW_YORK, start, 2), NEW_YORK) == [
        "2026-03-08 03:00 EDT",
        "2026-03-09 02:15 EDT",
    ]
    # times around the gap are untouched
    assert local(nexts("59 1 * * *", NEW_YORK, start, 1), NEW_YORK) == ["2026-03-08 01:59 EST"]
    assert local(nexts("0 3 * * *", NEW_YORK, start, 1), NEW_YORK) == ["2026-03-08 03:00 EDT"]


def test_fall_back_fires_a_fixed_time_once_the_first_time():
    # 25 October 2026 in Berlin: 03:00 CEST -> 02:00 CET; 02:30 happens twice
    start = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    assert local(nexts("30 2 * * *", BERLIN, start, 2), BERLIN) == [
        "2026-10-25 02:30 CEST",
        "2026-10-26 02:30 CET",
    ]
    # 1 November 2026 in New York: 01:30 happens twice
    start = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    assert local(nexts("30 1 * * *", NEW_YORK, start, 2), NEW_YORK) == [
        "2026-11-01 01:30 EDT",
        "2026-11-02 01:30 EST",
    ]


def test_fall_back_keeps_an_hourly_schedule_on_real_time():
    start = datetime(2026, 11, 1, 4, 50, tzinfo=UTC)  # 00:50 EDT
    got = nexts("*/30 * * * *", NEW_YORK, start, 5)
    assert local(got, NEW_YORK) == [
        "2026-11-01 01:00 EDT",
        "2026-11-01 01:30 EDT",
        "2026-11-01 01:00 EST",
        "2026-11-01 01:30 EST",
        "2026-11-01 02:00 EST",
    ]
    assert all(b - a == timedelta(minutes=30) for a, b in zip(got, got[1:]))


def test_leap_days_and_never():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert nexts("0 0 29 2 *", UTC, start, 1) == [datetime(2028, 2, 29, tzinfo=UTC)]


def test_occurrences_between_two_instants():
    c = cron.parse("*/10 * * * *")
    a = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    got = cron.occurrences(c, UTC, a, a + timedelta(hours=1))
    assert (
        len(got) == 6 and got[0] == a + timedelta(minutes=10) and got[-1] == a + timedelta(hours=1)
    )


@pytest.mark.parametrize(
    "text,words",
    [
        ("* * * * *", "every minute"),
        ("*/15 * * * *", "every 15 minutes"),
        ("0 * * * *", "every hour at :00"),
        ("@hourly", "every hour at :00"),
        ("0 6 * * *", "every day at 06:00"),
        ("0 6 * * 1-5", "every weekday at 06:00"),
        ("30 7 * * MON", "every Monday at 07:30"),
        ("0 9 * * 1,3", "every Monday and Wednesday at 09:00"),
        ("0 10 * * 6,0", "every Saturday and Sunday at 10:00"),
        ("0 6,18 * * *", "every day at 06:00 and 18:00"),
        ("0 6 1 * *", "on the 1st of the month at 06:00"),
        ("0 0 1 1 *", "on the 1st of January at 00:00"),
        ("0 9-17 * * *", "every hour from 09:00 to 17:00"),
        ("0 */2 * * *", "every 2 hours at :00"),
    ],
)
def test_describe_says_it_in_words(text, words):
    assert cron.describe(text) == words
