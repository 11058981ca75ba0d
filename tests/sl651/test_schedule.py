"""When the station reports: the pure rules, time passed in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from county.sl651.decode import decode
from gateway.config.station import WaterRules
from gateway.sl651 import schedule
from gateway.sl651.frames import ADDED, HOURLY, TIMED, encode_up
from gateway.sl651.schedule import Reading, ReportRules, ScheduleState

CST = timezone(timedelta(hours=8))
RULES = ReportRules("0012345678", 0x48, 8.0, 300.0, True, WaterRules(warning_m=1.0, danger_m=2.0, rise_rate_m_per_min=0.5, rise_window_s=60))


def cst(*parts: int) -> float:
    return datetime(*parts, tzinfo=CST).timestamp()


def run(readings: list[tuple[float, float]], rules: ReportRules = RULES) -> list[schedule.Report]:
    """Feed (wall, level) readings, monotonic time = wall; all reports in order."""
    state, out = ScheduleState(), []
    for wall, level in readings:
        state, reports = schedule.step(rules, state, Reading(level, wall), wall)
        out += reports
    return out


def decoded(report: schedule.Report) -> dict[str, object]:
    frame = decode(encode_up(1, "0012345678", "1234", report.function, 1, report.observed, 8, report.elements))
    return {"observed": frame.observed, **frame.elements}


def test_timed_reports_fall_on_the_five_minute_marks() -> None:
    start = cst(2026, 7, 1, 10, 1)
    reports = [r for r in run([(start + 30 * i, 0.5) for i in range(40)]) if r.function == TIMED]  # 10:01 .. 10:20:30
    assert [decoded(r)["observed"] for r in reports] == ["2026-07-01 10:01:00", "2026-07-01 10:05:00", "2026-07-01 10:10:00",
                                                        "2026-07-01 10:15:00", "2026-07-01 10:20:00"]


def test_added_report_on_each_upward_crossing_and_on_a_flash_flood() -> None:
    t = cst(2026, 7, 1, 10, 2)
    levels = [0.5, 0.9, 1.1, 1.2, 1.05, 2.1, 1.5, 0.5]
    no_rate = ReportRules("0012345678", 0x48, 8.0, 300.0, True, WaterRules(warning_m=1.0, danger_m=2.0))
    added = [r for r in run([(t + 5 * i, lv) for i, lv in enumerate(levels)], no_rate) if r.function == ADDED]
    assert [decoded(r)["river_level_m"] for r in added] == [1.1, 2.1]
    assert all(decoded(r)["status"] & 0b100 for r in added)  # bit 2: water level over the limit

    fast = [(t + 10 * i, 0.2 + 0.15 * i) for i in range(5)]  # 0.9 m/min, still below the warning mark
    assert [decoded(r)["river_level_m"] for r in run(fast) if r.function == ADDED] == [0.65]  # once the 30 s half-window is seen


def test_hourly_report_carries_the_twelve_five_minute_levels() -> None:
    t = cst(2026, 7, 1, 9, 5)
    readings = [(t + 60 * i, 0.01 * i) for i in range(57)]  # 09:05 .. 10:01, one a minute
    hourly = [r for r in run(readings) if r.function == HOURLY]
    assert len(hourly) == 1
    got = decoded(hourly[0])
    assert got["observed"] == "2026-07-01 10:00:00"
    assert got["levels_5min_m"] == [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55]  # 09:05 .. 10:00


def test_a_gap_in_the_hour_is_sent_as_missing_when_the_next_hour_starts() -> None:
    hourly = [r for r in run([(cst(2026, 7, 1, 9, 20, 10), 1.0), (cst(2026, 7, 1, 10, 7), 1.0)]) if r.function == HOURLY]
    assert decoded(hourly[0])["levels_5min_m"] == [None, None, None, 1.0, None, None, None, None, None, None, None, None]


def test_status_bits_follow_the_station_alarms() -> None:
    state = schedule.on_alarm(ScheduleState(), "sensor_stale", True)
    state, reports = schedule.step(RULES, state, Reading(0.5, cst(2026, 7, 1, 10, 0)), 0.0)
    assert decoded(reports[0])["status"] == 1 << 6
