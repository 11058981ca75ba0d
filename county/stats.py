"""The county's statistics, pure: periods cut at the county's local midnights, and counts per group.

What a duty leader asks at the end of a month: how many alarms and cases per township, station or
kind, by day or by month; how fast cases were accepted (签收) and closed (结案), as medians; how
many went overdue (督办); what share of the closed ones were false alarms (误报). The database is
read elsewhere (`county.stats_query`); here everything is plain data and time is passed in, so a
month of figures is tested in a millisecond and the two databases cannot disagree on a median.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

from county.i18n import Refused

Step = Literal["day", "month"]
Group = Literal["town", "station", "kind"]
GROUPS: tuple[Group, ...] = ("town", "station", "kind")
MAX_DAYS = 366  # a date range by day; longer ranges are asked by month


class PeriodError(Refused):
    """A period the page cannot show (end before start, too long, unreadable dates), said in both languages."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One day or month in the county's zone: [start, end) as epoch seconds, and its label (2026-12-03, 2026-12)."""

    label: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One case as the statistics need it (times in epoch seconds; None when that step never happened)."""

    station: str
    kind: str
    opened_at: float
    accepted_at: float | None
    closed_at: float | None
    overdue: bool
    result: str | None


@dataclass(frozen=True, slots=True)
class AlarmCount:
    """Alarms of one station and kind raised within one bucket (counted by the database)."""

    bucket: int
    station: str
    kind: str
    count: int


@dataclass
class Line:
    """One row of the table and the CSV: a bucket and a group's value (a township, station or kind)."""

    period: str
    key: str
    alarms: int = 0
    cases: int = 0
    overdue: int = 0
    closed: int = 0
    false_alarms: int = 0
    accept_s: list[float] = field(default_factory=list)
    close_s: list[float] = field(default_factory=list)

    @property
    def median_accept_s(self) -> float | None:
        return statistics.median(self.accept_s) if self.accept_s else None

    @property
    def median_close_s(self) -> float | None:
        return statistics.median(self.close_s) if self.close_s else None

    @property
    def false_alarm_share(self) -> float | None:
        """False alarms among the closed cases (None when none was closed: 0 % would claim something)."""
        return self.false_alarms / self.closed if self.closed else None


def _midnight(day: date, tz: tzinfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def days(first: date, last: date, tz: tzinfo) -> list[Bucket]:
    """Every day from `first` to `last` (inclusive), each from local midnight to the next (23 or 25 hours where the zone shifts)."""
    if last < first:
        raise PeriodError(f"结束日期 {last} 早于开始日期 {first}", f"the period ends ({last}) before it starts ({first})")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"按日统计最多 {MAX_DAYS} 天；更长的时段请选“按月”", f"at most {MAX_DAYS} days by day; choose months for a longer period")
    out = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        out.append(Bucket(day.isoformat(), _midnight(day, tz), _midnight(day + timedelta(days=1), tz)))
    return out


def months(first: date, last: date, tz: tzinfo) -> list[Bucket]:
    """Every month that `first`..`last` touches, whole, from its first local midnight to the next month's."""
    if last < first:
        raise PeriodError(f"结束日期 {last} 早于开始日期 {first}", f"the period ends ({last}) before it starts ({first})")
    out, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        nxt = (year + (month == 12), month % 12 + 1)
        out.append(Bucket(f"{year:04d}-{month:02d}", _midnight(date(year, month, 1), tz), _midnight(date(nxt[0], nxt[1], 1), tz)))
        year, month = nxt
        if len(out) > MAX_DAYS:
            raise PeriodError("时段太长", "the period is too long")
    return out


def last_days(now: float, tz: tzinfo, count: int = 30) -> list[Bucket]:
    """The last `count` local days, today included."""
    today = datetime.fromtimestamp(now, tz).date()
    return days(today - timedelta(days=count - 1), today, tz)


def last_months(now: float, tz: tzinfo, count: int = 12) -> list[Bucket]:
    """The last `count` local months, this month included."""
    today = datetime.fromtimestamp(now, tz).date()
    year, month = today.year, today.month - (count - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return months(date(year, month, 1), today, tz)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"日期格式应为 年-月-日（YYYY-MM-DD）：{text[:40]!r}", f"not a date (YYYY-MM-DD): {text[:40]!r}") from None


def bucket_of(buckets: list[Bucket], moment: float) -> int | None:
    """Index of the bucket holding `moment`, or None outside them all."""
    starts = [b.start for b in buckets]
    i = bisect_right(starts, moment) - 1
    return i if i >= 0 and moment < buckets[i].end else None


def town_of(station: str) -> str:
    """The township path (county/town) of a station path."""
    return "/".join(station.split("/")[:2])


def group_key(group: Group, station: str, kind: str) -> str:
    return {"town": town_of(station), "station": station, "kind": kind}[group]


def aggregate(buckets: list[Bucket], group: Group, alarms: Iterable[AlarmCount], cases: Iterable[CaseRow]) -> list[Line]:
    """The table: one line per bucket and group value that had anything, in bucket order then key order."""
    lines: dict[tuple[int, str], Line] = {}

    def line(i: int, key: str) -> Line:
        found = lines.get((i, key))
        if found is None:
            found = lines[(i, key)] = Line(buckets[i].label, key)
        return found

    for a in alarms:
        if 0 <= a.bucket < len(buckets):
            line(a.bucket, group_key(group, a.station, a.kind)).alarms += a.count
    starts = [b.start for b in buckets]
    for c in cases:
        i = bisect_right(starts, c.opened_at) - 1
        if i < 0 or c.opened_at >= buckets[i].end:
            continue
        row = line(i, group_key(group, c.station, c.kind))
        row.cases += 1
        row.overdue += bool(c.overdue)
        if c.accepted_at is not None:
            row.accept_s.append(max(0.0, c.accepted_at - c.opened_at))
        if c.closed_at is not None:
            row.closed += 1
            row.false_alarms += c.result == "false_alarm"
            row.close_s.append(max(0.0, c.closed_at - c.opened_at))
    return [lines[k] for k in sorted(lines)]


def totals(lines: Iterable[Line]) -> list[Line]:
    """The whole period per group value (medians over every case, not a median of medians)."""
    out: dict[str, Line] = {}
    for ln in lines:
        t = out.setdefault(ln.key, Line("", ln.key))
        t.alarms += ln.alarms
        t.cases += ln.cases
        t.overdue += ln.overdue
        t.closed += ln.closed
        t.false_alarms += ln.false_alarms
        t.accept_s += ln.accept_s
        t.close_s += ln.close_s
    return [out[k] for k in sorted(out)]
