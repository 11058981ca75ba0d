"""Issue 19 (statistics): the numbers a duty leader reads, on a seeded database (SQLite and PostgreSQL alike), cut at
the county's local midnights and limited to the account's scope."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from county import stats
from county.cases.db import LoopDb
from county.cases.store import CaseStore
from county.stats_query import alarm_counts, case_rows
from county.store import Store

TZ = ZoneInfo("Asia/Shanghai")
POND = "410421/xiaoqi/zhuwa/pond-01"
BRIDGE = "410421/xiaoqi/zhuwa/bridge-01"
FERRY = "410421/dongfeng/liuzhuang/ferry-02"
LOOKALIKE = "410421/xiaoqi2/x/y-01"  # not under 410421/xiaoqi


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def seed(url: str) -> None:
    """Alarms and cases around the local midnight of 3 December 2026 (16:00 UTC on the 2nd)."""
    store = Store(url)
    db = LoopDb(url)
    CaseStore(db)  # the case tables, as the loop makes them
    ts = store.dialect.ts
    alarms = [  # (station, kind, raised_at UTC)
        (POND, "person_in_water_zone", "2026-12-02T15:59:00"),  # 23:59 on the 2nd in the county
        (POND, "person_in_water_zone", "2026-12-02T16:01:00"),  # 00:01 on the 3rd
        (POND, "fire", "2026-12-03T03:00:00"),
        (BRIDGE, "water_level", "2026-12-03T04:00:00"),
        (FERRY, "water_level", "2026-12-03T05:00:00"),
        (LOOKALIKE, "water_level", "2026-12-03T05:00:00"),
    ]
    for n, (station, kind, raised) in enumerate(alarms):
        store.execute("""INSERT INTO alarms (event_id, station, alarm, source, category, severity, state, summary, raised_at, last_seq,
            updated_at) VALUES (?, ?, ?, 's', 'safety', 'danger', 'raised', '', ?, 1, ?)""", (f"a{n}", station, kind, ts(utc(raised)), ts(utc(raised))))
    cases = [  # (station, kind, opened UTC, accepted after s, closed after s, overdue, result)
        (POND, "person_in_water_zone", "2026-12-02T16:01:00", 120, 3600, False, "resolved"),
        (POND, "person_in_water_zone", "2026-12-03T01:00:00", 600, 1800, True, "false_alarm"),
        (POND, "fire", "2026-12-03T03:00:00", None, None, True, None),
        (BRIDGE, "water_level", "2026-12-03T04:00:00", 300, 900, False, "false_alarm"),
        (FERRY, "water_level", "2026-12-03T05:00:00", 60, 60, False, "resolved"),
        (POND, "person_in_water_zone", "2026-12-02T15:00:00", 30, None, False, None),  # the 2nd, local 23:00
    ]
    for station, kind, opened, accept_s, close_s, overdue, result in cases:
        at = utc(opened)
        rows = store.query("""INSERT INTO cases (station, kind, severity, summary, state, level, overdue, result, opened_by, opened_at,
            accept_due, handle_due, assignees, updated_at) VALUES (?, ?, 'danger', '', ?, 0, ?, ?, 'system', ?, ?, ?, '[]', ?) RETURNING id""",
                           (station, kind, "closed" if close_s else "dispatched", overdue, result, ts(at), ts(at), ts(at), ts(at)))
        case_id = rows[0][0]
        steps = [("open", 0.0)] + ([("accept", accept_s)] if accept_s is not None else []) + ([("close", close_s)] if close_s else [])
        steps += [("accept", (accept_s or 0) + 5000)] if accept_s is not None else []  # a second acceptance (after a send-back) does not count
        for action, after in steps:
            store.execute("""INSERT INTO case_steps (case_id, at, actor, action, from_state, to_state, note, photos)
                VALUES (?, ?, 'x', ?, '', '', '', '[]')""", (case_id, ts(at + after), action))
    db.close()
    store.close()


@pytest.fixture
def seeded(db_url: str) -> Store:
    seed(db_url)
    store = Store(db_url)
    yield store
    store.close()


def figures(store: Store, buckets: list[stats.Bucket], group: stats.Group, scope: str = "") -> list[stats.Line]:
    return stats.aggregate(buckets, group, alarm_counts(store, buckets, scope), case_rows(store, buckets, scope))


def test_stats_days_start_at_the_county_midnight_and_count_what_a_duty_leader_asks(seeded: Store) -> None:
    buckets = stats.days(date(2026, 12, 2), date(2026, 12, 3), TZ)
    assert buckets[1].start == utc("2026-12-02T16:00:00")  # local midnight of the 3rd
    lines = {(ln.period, ln.key): ln for ln in figures(seeded, buckets, "town")}
    second, third = lines[("2026-12-02", "410421/xiaoqi")], lines[("2026-12-03", "410421/xiaoqi")]
    assert (second.alarms, second.cases) == (1, 1)  # 23:59 local and the case at 23:00 stay on the 2nd
    assert third.alarms == 3 and third.cases == 4 and third.overdue == 2
    assert third.median_accept_s == 300  # 120, 600, 300 (the fire case was never accepted; a later re-accept is not counted)
    assert third.median_close_s == 1800  # 3600, 1800, 900
    assert (third.closed, third.false_alarms) == (3, 2) and third.false_alarm_share == pytest.approx(2 / 3)
    assert ("2026-12-03", "410421/xiaoqi2") in lines  # its own township, never folded into xiaoqi
    by_kind = {(ln.period, ln.key): ln for ln in figures(seeded, buckets, "kind")}
    assert by_kind[("2026-12-03", "water_level")].alarms == 3 and by_kind[("2026-12-03", "person_in_water_zone")].cases == 2


def test_stats_a_township_account_counts_only_its_township(seeded: Store) -> None:
    buckets = stats.days(date(2026, 12, 1), date(2026, 12, 4), TZ)
    lines = figures(seeded, buckets, "station", scope="410421/xiaoqi")
    assert {ln.key for ln in lines} == {POND, BRIDGE}
    totals = {t.key: t for t in stats.totals(lines)}
    assert totals[POND].alarms == 3 and totals[POND].cases == 4 and totals[BRIDGE].alarms == 1
    assert {ln.key for ln in figures(seeded, buckets, "station", scope="410421/dongfeng")} == {FERRY}


def test_stats_months_and_the_last_periods_follow_the_county_calendar() -> None:
    now = utc("2026-12-31T17:00:00")  # already 1 January 2027 in the county
    assert [b.label for b in stats.last_months(now, TZ)][-2:] == ["2026-12", "2027-01"] and len(stats.last_months(now, TZ)) == 12
    assert stats.last_days(now, TZ)[-1].label == "2027-01-01" and len(stats.last_days(now, TZ)) == 30
    month = stats.months(date(2026, 12, 5), date(2026, 12, 5), TZ)[0]
    assert (month.start, month.end) == (utc("2026-11-30T16:00:00"), utc("2026-12-31T16:00:00"))
    with pytest.raises(stats.PeriodError, match="before it starts"):
        stats.days(date(2026, 12, 5), date(2026, 12, 1), TZ)
    with pytest.raises(stats.PeriodError, match="months"):
        stats.days(date(2025, 1, 1), date(2026, 12, 31), TZ)
    with pytest.raises(stats.PeriodError, match="YYYY-MM-DD"):
        stats.parse_day("12/03/2026")


def test_stats_no_closed_case_gives_no_share_rather_than_zero() -> None:
    buckets = stats.days(date(2026, 12, 3), date(2026, 12, 3), TZ)
    open_case = stats.CaseRow(POND, "fire", utc("2026-12-03T01:00:00"), None, None, False, None)
    [line] = stats.aggregate(buckets, "station", [], [open_case])
    assert line.cases == 1 and line.false_alarm_share is None and line.median_accept_s is None
