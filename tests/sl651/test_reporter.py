"""The station's SL 651 reporter against real TCP centres on loopback (the county's reference centre)."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from county.sl651.decode import Frame, epoch_of
from county.sl651.listener import ReferenceCentre
from gateway.config.sl651 import Sl651Config
from gateway.config.station import WaterRules
from gateway.sl651.reporter import Sl651Reporter
from tests.stations import wait_for

CST = timezone(timedelta(hours=8))
RULES = WaterRules(warning_m=1.0, danger_m=2.0, rise_rate_m_per_min=0.5, rise_window_s=60)


def cst(*parts: int) -> float:
    return datetime(*parts, tzinfo=CST).timestamp()


def config(*ports: int, **extra: Any) -> Sl651Config:
    return Sl651Config.model_validate({
        "station_address": "0012345678", "password": "1234", "keepalive_s": 0.5, "ack_timeout_s": 2,
        "backoff_initial_s": 0.1, "backoff_max_s": 0.3, "connect_timeout_s": 1,
        "centres": [{"address": i + 1, "host": "127.0.0.1", "port": p} for i, p in enumerate(ports)], **extra,
    })


@pytest.fixture
def centres():
    started: list[ReferenceCentre] = []

    def start(port: int = 0, **kw: Any) -> ReferenceCentre:
        centre = ReferenceCentre("127.0.0.1", port, **kw).start()
        started.append(centre)
        return centre

    yield start
    for centre in started:
        centre.stop()


@pytest.fixture
def reporters():
    made: list[Sl651Reporter] = []

    def make(cfg: Sl651Config, path: Path, **kw: Any) -> Sl651Reporter:
        reporter = Sl651Reporter(cfg, RULES, "gauge-1", path, **kw).start()
        made.append(reporter)
        return reporter

    yield make
    for reporter in made:
        reporter.stop()


def observed(frames: list[Frame]) -> list[str | None]:
    return [f.observed for f in frames]


def test_keepalive_and_timed_report_arrive_with_the_right_bytes(tmp_path: Path, centres, reporters) -> None:
    centre = centres()
    reporter = reporters(config(centre.port, hourly_report=False), tmp_path / "sl651.db")
    assert wait_for(lambda: centre.received(0x2F), 5), "no keep-alive"
    keepalive = centre.received(0x2F)[0]
    assert (keepalive.centre, keepalive.station, keepalive.password, keepalive.raw_body[8:]) == (1, "0012345678", "1234", b"")
    reporter.on_reading("gauge-1", 0.734, time.monotonic(), cst(2026, 7, 1, 10, 0, 12), voltage=12.6)
    assert wait_for(lambda: centre.received(0x32), 5)
    frame = centre.received(0x32)[0]
    assert (frame.centre, frame.station, frame.password, frame.station_type, frame.observed) == (1, "0012345678", "1234", 0x48, "2026-07-01 10:00:00")
    assert frame.elements == {"station": "0012345678", "river_level_m": 0.734, "voltage_v": 12.6, "status": 0}
    assert frame.raw_body[8:].hex().upper() == "F1F1001234567848" "F0F02607011000" "392300000734" "38121260" "452000000000"
    assert wait_for(lambda: reporter.status()["centres"][0]["acknowledged"] == 1 and reporter.status()["centres"][0]["pending"] == 0, 5)
    assert reporter.on_reading("other-gauge", 5.0, time.monotonic(), cst(2026, 7, 1, 10, 5)) == 0  # not the reported sensor


def test_added_report_within_a_second_of_the_crossing(tmp_path: Path, centres, reporters) -> None:
    centre = centres()
    reporter = reporters(config(centre.port), tmp_path / "sl651.db")
    wall = cst(2026, 7, 1, 10, 1)
    reporter.on_reading("gauge-1", 0.9, time.monotonic(), wall)
    assert wait_for(lambda: centre.received(0x32), 5)
    crossed = time.monotonic()
    reporter.on_reading("gauge-1", 1.05, crossed, wall + 1)
    assert wait_for(lambda: centre.received(0x33), 1.0), "no added report within a second of crossing the warning mark"
    added = centre.received(0x33)[0]
    assert added.elements["river_level_m"] == 1.05 and added.elements["status"] & 0b100


def test_hourly_report_over_tcp(tmp_path: Path, centres, reporters) -> None:
    centre = centres()
    reporter = reporters(config(centre.port), tmp_path / "sl651.db")
    t, now = cst(2026, 7, 1, 9, 5), time.monotonic()
    for i in range(12):
        reporter.on_reading("gauge-1", 0.5 + 0.01 * i, now + 300 * i, t + 300 * i)
    assert wait_for(lambda: centre.received(0x34), 5)
    hourly = centre.received(0x34)[0]
    assert hourly.observed == "2026-07-01 10:00:00"
    assert hourly.elements["levels_5min_m"] == [0.5, 0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.57, 0.58, 0.59, 0.6, 0.61]


def test_an_outage_loses_nothing_and_keeps_order_and_observation_times(tmp_path: Path, centres, reporters) -> None:
    first = centres()
    port = first.port
    reporter = reporters(config(port, hourly_report=False), tmp_path / "sl651.db")
    assert wait_for(lambda: reporter.status()["centres"][0]["connected"], 5)
    first.stop()
    assert wait_for(lambda: not reporter.status()["centres"][0]["connected"], 5)
    walls = [cst(2026, 7, 1, 10, 0) + 300 * i for i in range(6)]
    for i, wall in enumerate(walls):
        reporter.on_reading("gauge-1", 0.2 + 0.01 * i, time.monotonic(), wall)
    time.sleep(1.0)  # a few failed reconnections
    assert reporter.status()["centres"][0]["pending"] == 6
    second = centres(port)
    assert wait_for(lambda: len(second.received(0x32)) == 6, 10)
    got = second.received(0x32)
    assert [f.elements["river_level_m"] for f in got] == [0.2, 0.21, 0.22, 0.23, 0.24, 0.25]
    assert [epoch_of(f.observed) for f in got] == walls  # observed when read, not when finally sent
    assert all(epoch_of(f.sent) > walls[-1] for f in got)


def test_reports_survive_a_restart_of_the_station(tmp_path: Path, centres) -> None:
    with socket.socket() as s:  # a port nobody listens on yet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reporter = Sl651Reporter(config(port), RULES, "gauge-1", tmp_path / "sl651.db").start()
    for i in range(3):
        reporter.on_reading("gauge-1", 1.0 + i, time.monotonic(), cst(2026, 7, 1, 10, 0) + 300 * i)
    reporter.stop()
    centre = centres(port)
    again = Sl651Reporter(config(port), RULES, "gauge-1", tmp_path / "sl651.db").start()
    try:
        assert wait_for(lambda: len(centre.received(0x32)) == 3, 10)
        assert [f.elements["river_level_m"] for f in centre.received(0x32)] == [1.0, 2.0, 3.0]
    finally:
        again.stop()


def test_two_centres_each_get_every_report_at_their_own_pace(tmp_path: Path, centres, reporters) -> None:
    fast, silent = centres(), centres(acknowledge=False)
    reporter = reporters(config(fast.port, silent.port, ack_timeout_s=0.5, hourly_report=False), tmp_path / "sl651.db")
    for i in range(3):
        reporter.on_reading("gauge-1", 0.3 + 0.1 * i, time.monotonic(), cst(2026, 7, 1, 11, 0) + 300 * i)
    assert wait_for(lambda: len(fast.received(0x32)) == 3, 5)
    assert [f.centre for f in fast.received(0x32)] == [1, 1, 1]
    assert wait_for(lambda: silent.received(0x32), 5) and {f.centre for f in silent.received(0x32)} == {2}
    state = {c["centre"].split("@")[0]: c for c in reporter.status()["centres"]}
    assert state["1"]["pending"] == 0 and state["2"]["pending"] == 3  # never acknowledged: kept, sent again
    assert wait_for(lambda: len(silent.received(0x32)) >= 2, 5)
    assert {f.elements["river_level_m"] for f in silent.received(0x32)} == {0.3}  # the first again, in order


def test_query_37_is_answered_with_the_latest_level(tmp_path: Path, centres, reporters) -> None:
    centre = centres()
    reporter = reporters(config(centre.port), tmp_path / "sl651.db")
    reporter.on_reading("gauge-1", 1.234, time.monotonic(), cst(2026, 7, 1, 12, 0, 30))
    assert wait_for(lambda: centre.received(0x32), 5)
    centre.query("0012345678")
    assert wait_for(lambda: centre.received(0x37), 5)
    answer = centre.received(0x37)[0]
    assert answer.elements["river_level_m"] == 1.234 and answer.observed == "2026-07-01 12:00:00"


@pytest.mark.parametrize("allowed", [False, True])
def test_clock_4a_is_answered_and_applied_only_when_allowed(tmp_path: Path, centres, reporters, allowed: bool) -> None:
    centre = centres()
    applied: list[float] = []
    reporter = reporters(config(centre.port, allow_clock_set=allowed), tmp_path / "sl651.db", set_clock=applied.append)
    assert wait_for(lambda: centre.received(0x2F), 5)
    centre_time = float(int(time.time()) + 3600)  # the centre is an hour ahead
    centre.set_clock("0012345678", centre_time)
    assert wait_for(lambda: centre.received(0x4A), 5)
    assert centre.received(0x4A)[0].elements == {"station": "0012345678"}
    assert 3590 < reporter.status()["clock_offset_s"] < 3610
    assert applied == ([centre_time] if allowed else [])
    assert reporter.status()["clock_applied"] is allowed


def test_a_stale_reported_sensor_sets_the_meter_fault_bit(tmp_path: Path, centres, reporters) -> None:
    centre = centres()
    reporter = reporters(config(centre.port, hourly_report=False), tmp_path / "sl651.db")
    reporter.on_alarm("sensor_stale", True, time.monotonic(), time.time(), "warning", source="other-gauge")  # not ours
    reporter.on_reading("gauge-1", 0.5, time.monotonic(), cst(2026, 7, 1, 13, 0))
    reporter.on_alarm("sensor_stale", True, time.monotonic(), time.time(), "warning", source="gauge-1")
    reporter.on_reading("gauge-1", 0.5, time.monotonic(), cst(2026, 7, 1, 13, 5))
    assert wait_for(lambda: len(centre.received(0x32)) == 2, 5)
    assert [f.elements["status"] for f in centre.received(0x32)] == [0, 1 << 6]
