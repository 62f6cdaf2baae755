"""5-field cron schedules: parse, find the next occurrence in a time zone, describe in words.

``minute hour day-of-month month day-of-week`` with lists (``1,15``), ranges (``1-5``), steps
(``*/15``, ``0-30/10``, ``5/15`` = ``5-59/15``), names (``MON``..``SUN``, ``JAN``..``DEC``, any
case; day of week 0-7, 0 and 7 both Sunday) and the aliases ``@hourly``, ``@daily``
(``@midnight``), ``@weekly``, ``@monthly``, ``@yearly`` (``@annually``). As in Vixie cron, when
both day fields are restricted (neither starts with ``*``) a day matches when *either* matches.

Time zones (IANA names through :mod:`zoneinfo`) and daylight-saving changes — the rule
(docs/CONTRACT.md, "Job definitions"):

- a local time that does not exist (clocks spring forward over it) fires at the first instant
  after the gap (02:30 on the day Berlin skips 02:00-03:00 fires at 03:00 CEST); several
  occurrences in one gap fire once;
- a local time that happens twice (clocks fall back) fires once, the first time — unless the
  hour field is ``*`` (an hourly or more frequent schedule), which fires in both passes so that
  "every 15 minutes" stays every 15 minutes of real time.

Nothing here depends on anything but the standard library.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .exceptions import BadRequest

FIELD = "schedule"
#: ranges in messages are written with an en dash, as people write them (0 to 59)
DASH = "\u2013"
ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
#: (what a person calls the field, lowest, highest, names or None)
FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of the month", 1, 31, None),
    ("month", 1, 12, MONTHS),
    ("day of the week", 0, 7, DAYS),
)
MAX_LENGTH = 200
#: how far ahead :func:`next_after` looks (a schedule such as Feb 29 on a Monday is rare)
HORIZON_DAYS = 366 * 30
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ITEM_RE = re.compile(r"^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/([0-9]+))?$")


@dataclasses.dataclass(frozen=True)
class Cron:
    """A parsed schedule. ``text`` is what was given (aliases kept)."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_star: bool
    weekdays_star: bool
    hours_star: bool
    fields: tuple[str, ...]

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.days_star and self.weekdays_star:
            return True
        if self.days_star:
            return dow
        if self.weekdays_star:
            return dom
        return dom or dow  # Vixie: both restricted → either


def _refuse(text: str, why: str) -> BadRequest:
    return BadRequest(f"Schedule: {text!r} — {why}", field=FIELD)


def _value(
    token: str, text: str, what: str, lo: int, hi: int, names: tuple[str, ...] | None
) -> int:
    if token.isdigit() and token.isascii():
        n = int(token)
    elif names is not None and token.upper() in names:
        n = names.index(token.upper()) + (1 if names is MONTHS else 0)
    else:
        named = " (or JAN..DEC)" if names is MONTHS else " (or MON..SUN)" if names else ""
        raise _refuse(text, f"{token!r} is not a {what}: use {lo}{DASH}{hi}{named}")
    if not lo <= n <= hi:
        raise _refuse(text, f"{what} {n} is out of range {lo}{DASH}{hi}")
    return n


def _field(part: str, text: str, index: int) -> set[int]:
    what, lo, hi, names = FIELDS[index]
    out: set[int] = set()
    for item in part.split(","):
        m = _ITEM_RE.match(item)
        if not m:
            raise _refuse(text, f"{item!r} is not a {what}, a range (1-5) or a step (*/15)")
        base, step_text = m.groups()
        step = 1
        if step_text is not None:
            step = int(step_text)
            if step == 0 or step > hi:
                raise _refuse(text, f"the step of {item!r} must be 1{DASH}{hi}")
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-")
            start = _value(a, text, what, lo, hi, names)
            end = _value(b, text, what, lo, hi, names)
            if end < start:
                raise _refuse(text, f"the range {base!r} of the {what} runs backwards")
        else:
            start = _value(base, text, what, lo, hi, names)
            end = hi if step_text is not None else start  # "5/15": from 5 to the end
        out.update(range(start, end + 1, step))
    if index == 4 and 7 in out:  # 7 is Sunday too
        out.discard(7)
        out.add(0)
    return out


def parse(text: object) -> Cron:
    """A schedule from its text; :class:`BadRequest` (``field: schedule``) saying what is wrong."""
    if not isinstance(text, str):
        raise BadRequest(
            "Schedule must be text with 5 fields: minute hour day-of-month month day-of-week"
            " (e.g. '0 6 * * *')",
            field=FIELD,
        )
    if len(text) > MAX_LENGTH:
        raise BadRequest(f"Schedule is too long (at most {MAX_LENGTH} characters)", field=FIELD)
    given = text.strip()
    expanded = ALIASES.get(given.lower(), given)
    if expanded.startswith("@"):
        raise _refuse(text, f"unknown alias; use one of {', '.join(ALIASES)} or 5 fields")
    parts = expanded.split()
    if len(parts) != 5:
        raise _refuse(
            text,
            f"a schedule has 5 fields (minute hour day-of-month month day-of-week, e.g."
            f" '0 6 * * *'), not {len(parts)}",
        )
    values = [_field(p, text, i) for i, p in enumerate(parts)]
    cron = Cron(
        text=given,
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=frozenset(values[4]),
        days_star=parts[2].startswith("*"),
        weekdays_star=parts[4].startswith("*"),
        hours_star=parts[1] == "*",
        fields=tuple(parts),
    )
    if cron.weekdays_star or not cron.days_star:
        # the days of the month alone decide (or together with the weekdays, by OR): some month
        # must have one of them
        if cron.weekdays_star and not any(
            d <= _DAYS_IN_MONTH[m - 1] for m in cron.months for d in cron.days
        ):
            raise _refuse(text, "no month has that day, so it never runs")
    return cron


def timezone_of(name: object, field: str = "timezone") -> ZoneInfo:
    """An IANA time zone; :class:`BadRequest` in the user's words for any other name."""
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Time zone must be an IANA name such as Europe/Berlin or UTC", field=field)
    try:
        if len(name) > 100 or name.startswith("/") or ".." in name or "\x00" in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = name if len(name) <= 60 else name[:56] + "..."
        raise BadRequest(
            f"Time zone: {shown!r} is not a known time zone (an IANA name such as"
            " Europe/Berlin, America/New_York or UTC)",
            field=field,
        ) from None


def _instants(wall: datetime, tz: tzinfo, both_passes: bool) -> list[datetime]:
    """The UTC instants a local wall time stands for under the rule in the module's docstring."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    if first == second:
        return [first]
    if first.astimezone(tz).replace(tzinfo=None) == wall:  # it happens twice
        return sorted({first, second}) if both_passes else [min(first, second)]
    # it does not exist: the first instant whose wall time is past it (the end of the gap)
    lo, hi = min(first, second), max(first, second)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) > wall:
            hi = mid
        else:
            lo = mid
    return [hi.replace(microsecond=0)]


def next_after(cron: Cron, tz: tzinfo, t: datetime) -> datetime | None:
    """The first occurrence strictly after ``t`` (aware), in UTC; None if none for 30 years."""
    t = t.astimezone(timezone.utc)
    # local wall times from a little before t (a DST change moves instants up to hours)
    start = t.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) - timedelta(hours=3)
    best: datetime | None = None
    best_wall: datetime | None = None
    day = start.date()
    for _ in range(HORIZON_DAYS):
        if best_wall is not None and datetime.combine(
            day, datetime.min.time()
        ) > best_wall + timedelta(hours=3):
            break
        if cron.day_matches(day):
            for h in cron.hours:
                for m in cron.minutes:
                    wall = datetime(day.year, day.month, day.day, h, m)
                    if wall < start:
                        continue
                    if best_wall is not None and wall > best_wall + timedelta(hours=3):
                        break
                    for instant in _instants(wall, tz, cron.hours_star):
                        if instant > t and (best is None or instant < best):
                            best, best_wall = instant, wall
        day += timedelta(days=1)
    return best


def occurrences(
    cron: Cron, tz: tzinfo, after: datetime, until: datetime, limit: int = 1000
) -> list[datetime]:
    """The occurrences in ``(after, until]``, oldest first, at most ``limit`` (the newest kept)."""
    out: list[datetime] = []
    t = after
    while True:
        nxt = next_after(cron, tz, t)
        if nxt is None or nxt > until:
            return out
        out.append(nxt)
        if len(out) > limit:
            out.pop(0)
        t = nxt


# ------------------------------------------------------------------------ in words


def _hhmm(h: int, m: int) -> str:
    return f"{h:02d}:{m:02d}"


def _list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _step_of(field: str, lo: int) -> int | None:
    m = re.fullmatch(r"\*/([0-9]+)", field)
    return int(m.group(1)) if m else None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _weekdays(days: frozenset[int]) -> str:
    if days == frozenset({1, 2, 3, 4, 5}):
        return "every weekday"
    if days == frozenset({0, 6}):
        return "every Saturday and Sunday"
    order = [1, 2, 3, 4, 5, 6, 0]
    return "every " + _list([DAY_NAMES[d] for d in order if d in days])


def describe(cron: Cron | str) -> str:
    """The schedule in plain words: "every weekday at 06:00", "every 15 minutes"."""
    if isinstance(cron, str):
        cron = parse(cron)
    f_min, f_hour = cron.fields[0], cron.fields[1]
    minute_step = _step_of(f_min, 0)
    hour_step = _step_of(f_hour, 0)
    # the time of day
    if f_min == "*" and f_hour == "*":
        when = "every minute"
    elif minute_step and f_hour == "*":
        when = f"every {minute_step} minutes"
    elif f_hour == "*" and len(cron.minutes) <= 4:
        when = "every hour at " + _list([f":{m:02d}" for m in cron.minutes])
    elif hour_step and len(cron.minutes) == 1:
        when = f"every {hour_step} hours at :{cron.minutes[0]:02d}"
    elif (
        len(cron.minutes) == 1
        and len(cron.hours) > 2
        and list(cron.hours) == list(range(cron.hours[0], cron.hours[-1] + 1))
    ):
        m0 = cron.minutes[0]
        when = f"every hour from {_hhmm(cron.hours[0], m0)} to {_hhmm(cron.hours[-1], m0)}"
    elif len(cron.minutes) * len(cron.hours) <= 4:
        when = "at " + _list([_hhmm(h, m) for h in cron.hours for m in cron.minutes])
    elif f_min == "*":
        when = "every minute during hour " + _list([f"{h:02d}" for h in cron.hours])
    else:
        mins = ",".join(str(m) for m in cron.minutes)
        hrs = ",".join(str(h) for h in cron.hours)
        when = f"at minute {mins} of hour {hrs}"
    # the days
    month_part = ""
    if cron.months != frozenset(range(1, 13)):
        month_part = " in " + _list([MONTH_NAMES[m - 1] for m in sorted(cron.months)])
    day_parts = []
    if not cron.days_star:
        of = " of the month"
        if month_part:
            of, month_part = " of" + month_part[3:], ""
        day_parts.append("on the " + _list([_ordinal(d) for d in sorted(cron.days)]) + of)
    if not cron.weekdays_star:
        day_parts.append(
            _weekdays(cron.weekdays) if not day_parts else "on " + _weekdays(cron.weekdays)[6:]
        )
    if day_parts:
        days = " or ".join(day_parts)
        return (
            f"{days}{month_part} {when}"
            if not when.startswith("every")
            else f"{when}, {days}{month_part}"
        )
    if when.startswith("at "):
        return f"every day{month_part} {when}"
    return f"{when}{month_part}"
