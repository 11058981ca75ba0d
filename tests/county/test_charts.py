"""The water-level chart: series and alarm bands from real stored rows (SQLite and PostgreSQL), and the SVG picture."""

from __future__ import annotations

import random
import threading
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from county.charts import AlarmBand, Limits, alarm_bands, level_limits, level_sensors, level_series, sensors_sql, series_sql, water_chart_svg
from county.store import Incoming, Store
from wire.messages import Alarm, Envelope, Telemetry, Topics, to_payload

STATION = "410421/xiaoqi/zhuwa/pond-01"
OTHER = "410421/xiaoqi/zhuwa/pond-02"
UNTIL = datetime(2026, 7, 2, 12, 0, tzinfo=timezone.utc).timestamp()
SINCE = UNTIL - 86400
SVG = "{http://www.w3.org/2000/svg}"


def topics(station: str) -> Topics:
    return Topics(*station.split("/"))


def incoming(topic: str, message: Envelope, at: float) -> Incoming:
    return Incoming(topic, message, to_payload(message).decode(), at)


def reading(seq: int, at: float, values: dict[str, float], sensor: str = "gauge-1", station: str = STATION) -> Incoming:
    msg = Telemetry(station=station, seq=seq, event_id=f"t{seq}", ts=datetime.fromtimestamp(at, timezone.utc), clock_synced=True,
                    boot_id="b", sensor=sensor, values=values)
    return incoming(topics(station).telemetry(sensor), msg, at)


def level(t: float) -> float:
    return round(1.2 + 0.2 * ((t - SINCE) % 7200) / 7200, 4)  # a slow saw tooth, never above 1.4


SPIKE_AT, DIP_AT = SINCE + 40_003, SINCE + 60_008  # one reading each, off any bucket edge


def day_of_readings() -> list[Incoming]:
    """A reading every 5 s from an hour before the window to 10 min after it, one spike and one dip; other sensors beside it."""
    items = []
    for i in range(int((86400 + 3600 + 600) / 5) + 1):
        t = SINCE - 3600 + 5 * i
        value = 9.75 if abs(t - SPIKE_AT) < 2.5 else -0.5 if abs(t - DIP_AT) < 2.5 else level(t)
        items.append(reading(i, t, {"level_m": value, "distance_mm": 1000.0}))
    seq = len(items)
    for k in range(50):  # a rain gauge (no level), a second gauge silent since before the window, another station
        items.append(reading(seq + 3 * k, SINCE + 600 * k, {"rain_mm": 0.2}, sensor="rain-1"))
        items.append(reading(seq + 3 * k + 1, SINCE - 7200 + 60 * k, {"level_m": 0.5}, sensor="gauge-2"))
        items.append(reading(seq + 3 * k + 2, SINCE + 600 * k, {"level_m": 3.0}, station=OTHER))
    items.append(reading(seq + 200, SINCE + 30, {"level_m": None}, sensor="gauge-3"))  # a null level is no level
    random.Random(3).shuffle(items)
    return items


def test_series_is_in_time_order_within_the_window_and_keeps_a_one_sample_spike(db_url: str) -> None:
    store = Store(db_url)
    try:
        items = day_of_readings()
        for k in range(0, len(items), 5000):  # out of order, several batches, as the ingest writes them
            store.write(items[k:k + 5000])
        assert level_sensors(store, STATION, SINCE) == ["gauge-1"]
        assert level_sensors(store, STATION, SINCE - 7200) == ["gauge-1", "gauge-2"]
        assert level_sensors(store, STATION, UNTIL + 3600) == []
        assert level_sensors(store, "410421/xiaoqi/zhuwa/nowhere", SINCE) == []

        raw = level_series(store, STATION, "gauge-1", SINCE, UNTIL, max_points=10**6)
        assert len(raw) == 86400 // 5 + 1  # both ends of the window included
        assert raw[0][0] == SINCE and raw[-1][0] == UNTIL
        assert all(a[0] < b[0] for a, b in zip(raw, raw[1:]))
        assert dict(raw)[SINCE + 3605] == level(SINCE + 3605)

        cut = level_series(store, STATION, "gauge-1", SINCE, UNTIL)
        assert 360 <= len(cut) <= 720
        assert all(a[0] < b[0] for a, b in zip(cut, cut[1:]))
        assert set(cut) <= set(raw)  # real readings, never averages
        assert max(v for _, v in cut) == 9.75 and min(v for _, v in cut) == -0.5  # the spike and the dip survive
        assert max(b[0] - a[0] for a, b in zip(cut, cut[1:])) <= 600  # no false gap from the cut
        assert level_series(store, STATION, "rain-1", SINCE, UNTIL) == []
    finally:
        store.close()


def test_the_queries_walk_the_sensor_index(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'county.db'}")
    try:
        for sql, params in ((series_sql(store), ("s", "g", "a", "b")), (sensors_sql(store), ("s", "s", "s", "a"))):
            plan = [row[-1] for row in store.query(f"EXPLAIN QUERY PLAN {sql}", params)]
            reads = [step for step in plan if step.startswith(("SCAN telemetry", "SEARCH telemetry"))]
            assert reads and all(step.startswith("SEARCH") and "telemetry_by_sensor" in step for step in reads), plan
    finally:
        store.close()


def alarm(seq: int, event_id: str, state: str, at: float, raised_at: float, severity: str = "danger", source: str = "gauge-1",
          station: str = STATION) -> Incoming:
    msg = Alarm(station=station, seq=seq, event_id=event_id, ts=datetime.fromtimestamp(at, timezone.utc), clock_synced=True, boot_id="b",
                alarm="water_level", state=state, severity=severity, category="safety", source=source, summary=f"level {state}",
                raised_at=datetime.fromtimestamp(raised_at, timezone.utc))
    return incoming(topics(station).event("water_level"), msg, at)


def test_alarm_bands_are_the_sensors_alarms_open_in_the_window(db_url: str) -> None:
    h = 3600.0
    steps = [
        alarm(1, "before", "raised", SINCE - 2 * h, SINCE - 2 * h), alarm(2, "before", "cleared", SINCE - h, SINCE - 2 * h),
        alarm(3, "across-start", "raised", SINCE - 0.5 * h, SINCE - 0.5 * h, "warning"),
        alarm(4, "across-start", "cleared", SINCE + 0.5 * h, SINCE - 0.5 * h, "warning"),
        alarm(5, "inside", "raised", SINCE + 3 * h, SINCE + 3 * h, "warning"),
        alarm(6, "inside", "updated", SINCE + 4 * h, SINCE + 3 * h, "critical"),
        alarm(7, "inside", "cleared", SINCE + 5 * h, SINCE + 3 * h, "critical"),
        alarm(8, "open", "raised", UNTIL - h, UNTIL - h),
        alarm(9, "other-sensor", "raised", SINCE + h, SINCE + h, source="gauge-2"),
        alarm(10, "other-station", "raised", SINCE + h, SINCE + h, station=OTHER),
        alarm(11, "after", "raised", UNTIL + h, UNTIL + h),
    ]
    store = Store(db_url)
    try:
        store.write(steps)
        assert alarm_bands(store, STATION, "gauge-1", SINCE, UNTIL) == [
            AlarmBand(SINCE - 0.5 * h, SINCE + 0.5 * h, "warning"),
            AlarmBand(SINCE + 3 * h, SINCE + 5 * h, "critical"),  # the latest severity
            AlarmBand(UNTIL - h, None, "danger"),  # still open
        ]
        assert alarm_bands(store, STATION, "gauge-2", SINCE, UNTIL) == [AlarmBand(SINCE + h, None, "danger")]
        assert alarm_bands(store, STATION, "gauge-1", SINCE + 6 * h, UNTIL - 2 * h) == []
    finally:
        store.close()


def groups(svg: bytes, prefix: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if g.get("id", "").startswith(prefix)]


def test_the_chart_is_an_svg_with_one_line_per_run_and_shaded_alarms() -> None:
    before = [(SINCE + 3600 + 60 * k, 1.2 + 0.01 * k) for k in range(60)]
    after = [(before[-1][0] + 1800 + 60 * k, 1.5 - 0.01 * k) for k in range(60)]  # the station was away 30 minutes
    bands = [AlarmBand(SINCE - 600, SINCE + 7200, "warning"), AlarmBand(UNTIL - 3600, None, "critical"),
             AlarmBand(SINCE - 9000, SINCE - 8000, "danger")]  # the last is outside the window: not drawn
    svg = water_chart_svg(before + after, SINCE, UNTIL, bands, title="pond-01 gauge-1", tz=ZoneInfo("Asia/Shanghai"))
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    width, height = (float(root.get(a, "").removesuffix("pt")) * 96 / 72 for a in ("width", "height"))
    assert (round(width), round(height)) == (720, 260)
    runs = groups(svg, "level-run-")
    assert [g.get("id") for g in runs] == ["level-run-0", "level-run-1"]
    assert all(len(g.findall(f"{SVG}path")) == 1 for g in runs)
    shaded = groups(svg, "alarm-band-")
    assert [g.get("id") for g in shaded] == ["alarm-band-0", "alarm-band-1"]
    styles = [g.find(f"{SVG}path").get("style", "") for g in shaded]  # type: ignore[union-attr]
    assert "#f0a000" in styles[0] and "#d62728" in styles[1] and all("opacity: 0.2" in s for s in styles)
    assert not groups(svg, "no-readings")
    assert b"UTC+08:00" in svg and b"level (m)" in svg and b"21:00" in svg  # text is drawn as paths; matplotlib notes it in comments

    steady = water_chart_svg(before, SINCE, UNTIL)
    assert len(groups(steady, "level-run-")) == 1


def test_an_empty_chart_says_there_are_no_readings() -> None:
    svg = water_chart_svg([], SINCE, UNTIL, [AlarmBand(UNTIL - 3600, None, "danger")])
    assert len(groups(svg, "no-readings")) == 1 and b"no readings in the last 24 h" in svg
    assert not groups(svg, "level-run-") and len(groups(svg, "alarm-band-")) == 1


def test_charts_render_side_by_side_in_threads() -> None:
    """The web server renders in threads: no pyplot, no shared figure."""
    series = [(SINCE + 120 * k, 1.0 + (k % 50) / 100) for k in range(720) if not 300 <= k < 320]
    out: list[bytes] = []
    threads = [threading.Thread(target=lambda: out.append(water_chart_svg(series, SINCE, UNTIL))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(out) == 4 and all(len(groups(svg, "level-run-")) == 2 for svg in out)


def water_alarm(seq: int, event_id: str, state: str, at: float, severity: str, details: dict[str, float], source: str = "gauge-1") -> Incoming:
    msg = Alarm(station=STATION, seq=seq, event_id=event_id, ts=datetime.fromtimestamp(at, timezone.utc), clock_synced=True, boot_id="b",
                alarm="water_level", state=state, severity=severity, category="safety", source=source, summary=f"level {state}",
                details=details, raised_at=datetime.fromtimestamp(at, timezone.utc))
    return incoming(topics(STATION).event("water_level"), msg, at)


def test_board_chart_limits_are_the_stations_marks_from_its_newest_water_alarm(db_url: str) -> None:
    store = Store(db_url)
    try:
        store.write([water_alarm(1, "w1", "raised", SINCE + 60, "warning", {"level_m": 2.1, "warning_m": 2.0, "danger_m": 3.0}),
                     water_alarm(2, "w2", "raised", SINCE + 120, "danger", {"level_m": 3.4, "warning_m": 2.2, "danger_m": 3.2}),
                     water_alarm(3, "w3", "raised", SINCE + 180, "danger", {"level_m": 9.0, "warning_m": 5.0, "danger_m": 6.0},
                                 source="gauge-2")])  # another sensor's marks are not this one's
        limits = level_limits(store, STATION, "gauge-1")
        assert limits == Limits(2.2, 3.2, "station", SINCE + 120)
        assert level_limits(store, STATION, "rain-1") is None and level_limits(store, OTHER, "gauge-1") is None
    finally:
        store.close()


def test_board_chart_limits_fall_back_to_the_levels_alarms_were_raised_at(db_url: str) -> None:
    store = Store(db_url)
    try:
        store.write([water_alarm(1, "w1", "raised", SINCE + 60, "warning", {"level_m": 2.05}),
                     water_alarm(2, "w1", "updated", SINCE + 90, "danger", {"level_m": 3.1}),
                     water_alarm(3, "w2", "raised", SINCE + 600, "warning", {"level_m": 1.98}),
                     water_alarm(4, "w2", "cleared", SINCE + 900, "warning", {"level_m": 1.2})])  # a clearing level is no mark
        assert level_limits(store, STATION, "gauge-1") == Limits(1.98, 3.1, "alarms", SINCE + 600)
    finally:
        store.close()


def test_board_chart_draws_the_warning_and_danger_lines_and_says_where_they_came_from() -> None:
    series = [(SINCE + 60 * k, 1.0 + 0.001 * k) for k in range(600)]
    svg = water_chart_svg(series, SINCE, UNTIL, tz=ZoneInfo("Asia/Shanghai"), limits=Limits(2.0, 3.0, "station", SINCE + 120))
    assert len(groups(svg, "limit-warning")) == 1 and len(groups(svg, "limit-danger")) == 1 and len(groups(svg, "limits-legend")) == 1
    warning = groups(svg, "limit-warning")[0].find(f"{SVG}path").get("style", "")  # type: ignore[union-attr]
    assert "#f0a000" in warning
    assert b"warning 2.00 m" in svg and b"danger 3.00 m" in svg and b"station's marks (alarm 07-01 20:02)" in svg  # the county's zone
    fallback = water_chart_svg(series, SINCE, UNTIL, limits=Limits(None, 3.1, "alarms", SINCE + 600))
    assert not groups(fallback, "limit-warning") and len(groups(fallback, "limit-danger")) == 1
    assert b"levels alarms were raised at" in fallback
    assert not groups(water_chart_svg(series, SINCE, UNTIL), "limit-")
