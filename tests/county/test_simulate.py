"""Simulated stations: a pure scenario, a fleet that survives outages, Wills, both drivers, the CLI."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from county.cli import app
from county.ingest import Ingest
from county.sim.fleet import LinkConfig
from county.sim.scenario import ScenarioParams, initial, step
from county.sim.simulate import MAX_THREADED, ThreadedFleet, make_stations
from county.store import Store
from gateway.localbroker import LocalBroker
from tests.county.capture import Capture
from tests.county.conftest import FleetFactory
from tests.county.test_ingest import settle, stored_seqs
from tests.stations import wait_for

DAY = 86400.0


def run_day(seed: int, params: ScenarioParams) -> list[tuple[float, str, str]]:
    rng = random.Random(seed)
    state = initial(0.0, params, rng)
    out = []
    while state.due <= DAY:
        now = state.due
        state, emits = step(state, now, 1e9 + now, params, rng)
        out += [(now, e.what, e.fields.get("state", "")) for e in emits]
    return out


def test_a_day_of_one_station_in_milliseconds() -> None:
    params = ScenarioParams(telemetry_s=60, health_s=300, alarm_every_s=3600, alarm_duration_s=600)
    t0 = time.perf_counter()
    day = run_day(3, params)
    assert time.perf_counter() - t0 < 5  # sanity, not a performance figure
    kinds = Counter(what for _, what, _ in day)
    assert abs(kinds["telemetry"] - DAY / 60) <= 1 and abs(kinds["health"] - DAY / 300) <= 1
    states = [s for _, what, s in day if what == "alarm"]
    assert states and states[::2] == ["raised"] * len(states[::2]) and set(states[1::2]) <= {"cleared"}  # raised, cleared, raised...
    assert kinds["playback"] == states.count("raised")
    assert run_day(3, params) == day and run_day(4, params) != day  # reproducible from the seed


@pytest.mark.parametrize("group", ["", "ingest"])
def test_a_broker_restart_loses_no_event_and_without_sharing_nothing_at_all(tmp_path: Path, fleet: FleetFactory, group: str) -> None:
    """Direct subscriptions survive a mosquitto restart; mosquitto 2.0.11 does not restore shared ones, so with a
    shared group only telemetry/health published before the member resubscribes may be missing, never an event."""
    broker = LocalBroker(workdir=tmp_path / "broker", persistent=True).start()
    store = Store(f"sqlite:///{tmp_path / 'county.db'}")
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-outage", group=group).start()
    try:
        assert member.connected.wait(10)
        time.sleep(0.3)
        f = fleet(broker.port, 20, ScenarioParams(telemetry_s=0.3, health_s=2, alarm_every_s=1, alarm_duration_s=0.5))
        time.sleep(1.5)
        broker.stop()
        time.sleep(2.0)  # the stations keep queueing
        assert f.pending() > 20
        broker.start()
        assert wait_for(lambda: f.connected() == 20 and member.connected.is_set(), timeout=20)
        time.sleep(1.0)
        settle(f, member)
        got = {k: set(v) for k, v in stored_seqs(store).items()}
        for s in f.stations:
            assert set(s.event_seqs) <= got[s.path], s.path  # every alarm, playback and reply
            missing = set(range(s.outbox.last_seq + 1)) - got[s.path]
            assert not missing & set(s.event_seqs)
            if not group:
                assert not missing, (s.path, sorted(missing))
        assert sum(len(s.event_seqs) for s in f.stations) >= 20 and f.stats.connects >= 40
    finally:
        member.stop()
        store.close()
        broker.stop()


def statuses(capture: Capture) -> dict[str, tuple[bool, str]]:
    last = {}
    for topic, payload, _ in capture.snapshot():
        if topic.endswith("/status"):
            doc = json.loads(payload)
            last[doc["station"]] = (doc["online"], doc["reason"])
    return last


def test_each_station_has_its_own_will(broker: LocalBroker, fleet: FleetFactory) -> None:
    capture = Capture(broker.port, "vs/v1/+/+/+/+/status")
    try:
        killed = fleet(broker.port, 5, name="killed")
        stopped = fleet(broker.port, 5, first=5, name="stopped")
        assert wait_for(lambda: len(statuses(capture)) == 10 and all(on for on, _ in statuses(capture).values()), timeout=10)
        killed.stop(goodbye=False)
        stopped.stop(goodbye=True)
        expected = {s.path: (False, "connection lost") for s in killed.stations} | {s.path: (False, "shutdown") for s in stopped.stations}
        assert wait_for(lambda: statuses(capture) == expected, timeout=10), statuses(capture)
    finally:
        capture.stop()


def test_thread_per_station_mode_runs_the_gateway_uplink(broker: LocalBroker, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'county.db'}")
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-threads").start()
    assert member.connected.wait(10)
    time.sleep(0.3)
    stations = make_stations(5, tmp_path / "fleet", ScenarioParams(telemetry_s=0.2, health_s=1, alarm_every_s=1, alarm_duration_s=0.5))
    f = ThreadedFleet(stations, LinkConfig("127.0.0.1", broker.port, backoff_initial_s=0.1, backoff_max_s=0.5)).start()
    try:
        assert wait_for(lambda: f.connected() == 5, timeout=10)
        time.sleep(2.0)
        f.scenario = False
        assert wait_for(lambda: f.pending() == 0, timeout=20) and member.wait_idle(timeout=20)
        assert {k: sorted(v) for k, v in stored_seqs(store).items()} == {s.path: list(range(s.outbox.last_seq + 1)) for s in stations}
        f.stop()  # each Uplink says goodbye
        assert wait_for(lambda: store.query("SELECT COUNT(*) FROM stations WHERE reason = 'shutdown'") == [(5,)], timeout=10)
    finally:
        f.stop()
        member.stop()
        store.close()


def test_thread_per_station_mode_refuses_what_paho_select_cannot_watch(broker: LocalBroker, tmp_path: Path) -> None:
    stations = make_stations(MAX_THREADED + 1, tmp_path / "fleet", ScenarioParams())
    try:
        with pytest.raises(ValueError, match="select"):
            ThreadedFleet(stations, LinkConfig("127.0.0.1", broker.port))
    finally:
        for s in stations:
            s.close()
    result = CliRunner().invoke(app, ["simulate", "--stations", "500", "--mode", "threads", "--broker", f"127.0.0.1:{broker.port}", "--lang", "en"])
    assert result.exit_code == 2 and "--mode selector" in result.output and "threads mode runs at most" in result.stderr


def test_cli_refuses_in_the_readers_language(broker: LocalBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    runner = CliRunner()
    too_many = runner.invoke(app, ["simulate", "--stations", str(MAX_THREADED + 1), "--mode", "threads", "--broker", f"127.0.0.1:{broker.port}"])
    assert too_many.exit_code == 2 and f"模拟：threads 方式每个进程最多 {MAX_THREADED} 个站点" in too_many.stderr and "--mode selector" in too_many.stderr
    mode = runner.invoke(app, ["simulate", "--mode", "fibres", "--broker", f"127.0.0.1:{broker.port}"])
    assert mode.exit_code == 2 and "模拟：没有 'fibres' 这种方式（selector 或 threads）" in mode.stderr
    mode_en = runner.invoke(app, ["simulate", "--mode", "fibres", "--broker", f"127.0.0.1:{broker.port}", "--lang", "en"])
    assert mode_en.exit_code == 2 and "simulate: unknown mode 'fibres' (selector or threads)" in mode_en.stderr
    port = runner.invoke(app, ["simulate", "--broker", "127.0.0.1:mqtt"])
    assert port.exit_code == 2 and "模拟：--broker '127.0.0.1:mqtt' 应写成 HOST:PORT" in port.stderr


def test_cli_runs_a_small_fleet(broker: LocalBroker, tmp_path: Path) -> None:
    capture = Capture(broker.port)
    try:
        result = CliRunner().invoke(app, ["simulate", "--stations", "5", "--broker", f"127.0.0.1:{broker.port}", "--seconds", "2",
                                          "--telemetry-s", "0.25", "--workdir", str(tmp_path / "fleet"), "--lang", "en"])
        assert result.exit_code == 0, result.output
        made = int(result.output.rsplit("done: ", 1)[1].split()[0])
        assert made >= 5 * 6
        assert wait_for(lambda: sum(1 for t, _, _ in capture.snapshot() if "/status" not in t) == made, timeout=10)
        assert len({t.split("/")[5] for t, _, _ in capture.snapshot()}) == 5
    finally:
        capture.stop()
    assert f"simulating 5 stations (selector) of county 410421 against 127.0.0.1:{broker.port}" in result.stderr


def test_cli_speaks_chinese_by_default(broker: LocalBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    result = CliRunner().invoke(app, ["simulate", "--stations", "2", "--broker", f"127.0.0.1:{broker.port}", "--seconds", "1",
                                      "--workdir", str(tmp_path / "fleet")])
    assert result.exit_code == 0, result.output
    assert f"模拟县 410421 的 2 个站点（selector 方式），连接 127.0.0.1:{broker.port}" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("完成：共产生 ") and result.stderr.endswith(" 条消息\n")
