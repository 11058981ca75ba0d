"""`/stats` and `/stats.csv`: alarms and cases per township, station or kind, by day or month.

The period is the last 30 days by day, the last 12 months by month, or a date range (by day, or
by month when asked), always cut at the county's local midnights (`--tz`). An operator counts only
what lies under their scope. The CSV carries a UTF-8 BOM, so Excel in Chinese opens it without
mojibake, and Chinese headers unless `?lang=en`. Names shown are the stations' own (their birth
message), the codes beside them: a table that is copied elsewhere must stay unambiguous.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from county import stats
from county.accounts import Operator
from county.stats_query import alarm_counts, case_rows
from county.web import access
from county.wording import Say

if TYPE_CHECKING:
    from county.web.app import Web

PERIODS = ("30d", "12m", "range")
COLUMNS: list[tuple[str, str, str]] = [  # (field, zh, en)
    ("period", "时段", "period"), ("key", "分组", "group"), ("name", "名称", "name"), ("alarms", "告警数", "alarms"),
    ("cases", "案件数", "cases"), ("median_accept_min", "签收时长中位数（分钟）", "median time to accept (min)"),
    ("median_close_min", "结案时长中位数（分钟）", "median time to close (min)"), ("overdue", "超期数", "overdue"),
    ("closed", "已结案", "closed"), ("false_alarm_pct", "误报占比（%）", "false-alarm share (%)"),
]
CACHE_S = 60.0
CACHE_ENTRIES = 64
GROUP_WORDS = {"town": ("乡镇", "township"), "station": ("站点", "station"), "kind": ("告警类型", "kind")}


@dataclass(frozen=True)
class Query:
    """What the page was asked for, read from the query string (a bad one says why, never a 500)."""

    period: str
    group: stats.Group
    start: str
    end: str
    by_month: bool

    @classmethod
    def read(cls, params: Any) -> Query:
        period = params.get("period", "30d") if params.get("period", "30d") in PERIODS else "30d"
        group = params.get("group", "town")
        return cls(period, group if group in stats.GROUPS else "town", params.get("from", "")[:40], params.get("to", "")[:40],
                   params.get("step") == "month")

    def buckets(self, now: float, tz: tzinfo) -> list[stats.Bucket]:
        if self.period == "12m":
            return stats.last_months(now, tz)
        if self.period == "range":
            first, last = stats.parse_day(self.start), stats.parse_day(self.end)
            return stats.months(first, last, tz) if self.by_month else stats.days(first, last, tz)
        return stats.last_days(now, tz)


def minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}"


def table(lines: list[stats.Line], group: stats.Group, say: Say) -> list[dict[str, str]]:
    """The lines as text cells, in COLUMNS' order; names from the county's directory, then the stations' birth messages."""
    def name(key: str) -> str:
        return say.kind(key) if group == "kind" else say.place(key)

    return [{"period": ln.period, "key": ln.key, "name": name(ln.key), "alarms": str(ln.alarms), "cases": str(ln.cases),
             "median_accept_min": minutes(ln.median_accept_s), "median_close_min": minutes(ln.median_close_s),
             "overdue": str(ln.overdue), "closed": str(ln.closed), "false_alarm_pct": percent(ln.false_alarm_share)}
            for ln in lines]


def to_csv(rows: list[dict[str, str]], lang: str) -> bytes:
    """UTF-8 with a BOM (Excel's cue for UTF-8), CRLF lines as RFC 4180 has them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([zh if lang == "zh" else en for _, zh, en in COLUMNS])
    for row in rows:
        writer.writerow([_cell(row[f]) for f, _, _ in COLUMNS])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _cell(text: str) -> str:
    """A spreadsheet never runs a station's name as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Recent:
    """The rows of a scope and period read in the last CACHE_S: the page, its other groupings and its CSV cost one
    read of the database (seconds for a month of a busy county), not one each. Bounded to CACHE_ENTRIES."""

    def __init__(self) -> None:
        self._rows: dict[tuple[Any, ...], tuple[float, list[stats.AlarmCount], list[stats.CaseRow]]] = {}
        self._lock = threading.Lock()

    def rows(self, web: Web, scope: str, buckets: list[stats.Bucket], now: float) -> tuple[list[stats.AlarmCount], list[stats.CaseRow]]:
        key = (scope, tuple((b.start, b.end) for b in buckets))
        with self._lock:
            hit = self._rows.get(key)
            if hit is not None and now - hit[0] < CACHE_S:
                return hit[1], hit[2]
        alarms = web.db.call(alarm_counts, web.db.store, buckets, scope)
        cases = web.db.call(case_rows, web.db.store, buckets, scope)
        with self._lock:
            self._rows = {k: v for k, v in self._rows.items() if now - v[0] < CACHE_S}
            if len(self._rows) < CACHE_ENTRIES:
                self._rows[key] = (now, alarms, cases)
        return alarms, cases


def compute(web: Web, recent: Recent, op: Operator, q: Query, now: float) -> tuple[list[stats.Line], list[stats.Line], list[stats.Bucket]]:
    """(lines per bucket, totals over the period, buckets); PeriodError for a period that cannot be shown."""
    buckets = q.buckets(now, web.settings.tz)
    alarms, cases = recent.rows(web, op.scope, buckets, now)
    lines = stats.aggregate(buckets, q.group, alarms, cases)
    return lines, stats.totals(lines), buckets


def stats_routes(w: Callable[[], Web]) -> list[Route]:
    recent = Recent()
    logged_in = access.logged_in(w)

    @logged_in
    async def page(request: Request, op: Operator) -> Response:
        web, q = w(), Query.read(request.query_params)
        say = web.say(request)
        try:
            lines, sums, buckets = await run_in_threadpool(compute, web, recent, op, q, time.time())
        except stats.PeriodError as exc:
            return web.page(request, "stats.html", op, 400, page="stats", say=say, q=q, error=exc.text(say.lang), rows=[], totals=[],
                            columns=COLUMNS, groups=GROUP_WORDS, span="", other_lang="lang=" + ("en" if say.lang == "zh" else "zh"))
        span = f"{buckets[0].label} … {buckets[-1].label}" if buckets else ""
        return web.page(request, "stats.html", op, page="stats", say=say, q=q, error="", rows=table(lines, q.group, say),
                        totals=table(sums, q.group, say), columns=COLUMNS, groups=GROUP_WORDS, span=span,
                        csv_query=request.url.query, other_lang=urlencode({**request.query_params, "lang": "en" if say.lang == "zh" else "zh"}))

    @logged_in
    async def csv_file(request: Request, op: Operator) -> Response:
        web, q = w(), Query.read(request.query_params)
        lang = "en" if request.query_params.get("lang") == "en" else "zh"
        try:
            lines, _, buckets = await run_in_threadpool(compute, web, recent, op, q, time.time())
        except stats.PeriodError as exc:
            return Response(exc.text(lang), status_code=400, media_type="text/plain; charset=utf-8")
        say = Say(lang, web.settings.tz, web.names, web.birth)  # the file's language is its own (?lang=en), not the session's
        body = to_csv(table(lines, q.group, say), lang)
        name = f"stats-{q.group}-{buckets[0].label}-{buckets[-1].label}.csv" if buckets else "stats.csv"
        return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return [Route("/stats", page), Route("/stats.csv", csv_file)]
