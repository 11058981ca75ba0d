"""The watch table: a pure state fed messages, then the CLI once against a real broker."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from county.cli import app
from county.ingest import Ingest
from county.sim.scenario import Emit
from county.store import Store
from county.watch import FleetState, render
from gateway.localbroker import LocalBroker
from tests.county.conftest import FleetFactory
from tests.stations import wait_for
from wire.messages import Alarm, Health, Status, Telemetry, Topics, to_payload

NOW = 1_800_000_000.0
POND = Topics("410421", "xiaoqi", "zhuwa", "pond-01")
FORD = Topics("410421", "xiaoqi", "dongcun", "ford-02")
ELSEWHERE = Topics("410421", "gaocun", "nancun", "bank-03")


def env(topics: Topics, seq: int, event_id: str | None = None) -> dict[str, Any]:
    return {"station": topics.prefix.split("/", 2)[2], "seq": seq, "event_id": event_id or f"m{seq}", "ts": "2027-01-15T07:00:00Z",
            "clock_synced": True, "boot_id": "b"}


def alarm(topics: Topics, seq: int, state: str, severity: str = "danger", event_id: str = "a1", kind: str = "water_level") -> bytes:
    return to_payload(Alarm(**env(topics, seq, event_id), alarm=kind, state=state, severity=severity, category="safety",
                            source="gauge-1", raised_at="2027-01-15T08:00:00Z"))


def status(topics: Topics, online: bool, reason: str = "") -> bytes:
    return to_payload(Status(**env(topics, 0), online=online, reason=reason, name=topics.prefix.rsplit("/", 1)[-1]))


def health(topics: Topics, seq: int, depth: int, fps: dict[str, float]) -> bytes:
    return to_payload(Health(**env(topics, seq), uptime_s=5, queue_depth=depth, queue_bytes=0, dropped_total=0, camera_fps=fps))


def test_presence_alarms_and_health_make_the_rows() -> None:
    state = FleetState("410421/xiaoqi")
    state.handle(POND.status, status(POND, True), retained=True, now=NOW)
    state.handle(FORD.status, status(FORD, True), retained=False, now=NOW - 30)
    state.handle(ELSEWHERE.status, status(ELSEWHERE, True), retained=False, now=NOW)  # another township: not ours
    state.handle(POND.event("water_level"), alarm(POND, 4, "raised", "warning"), retained=False, now=NOW - 5)
    state.handle(POND.event("water_level"), alarm(POND, 6, "updated", "danger"), retained=False, now=NOW - 4)
    state.handle(POND.event("smoke"), alarm(POND, 7, "raised", "warning", event_id="a2", kind="smoke"), retained=False, now=NOW - 3)
    state.handle(POND.health, health(POND, 8, depth=12, fps={"cam-1": 9.5}), retained=False, now=NOW - 2)
    state.handle(FORD.status, status(FORD, False, "connection lost"), retained=False, now=NOW - 20)

    rows = {r.station: r for r in state.rows(NOW)}
    assert set(rows) == {"410421/xiaoqi/zhuwa/pond-01", "410421/xiaoqi/dongcun/ford-02"}
    pond, ford = rows["410421/xiaoqi/zhuwa/pond-01"], rows["410421/xiaoqi/dongcun/ford-02"]
    assert pond.online is True and [(a.alarm, a.severity) for a in pond.alarms] == [("water_level", "danger"), ("smoke", "warning")]
    assert pond.queue_depth == 12 and pond.camera_fps == (("cam-1", 9.5),) and pond.last_seen_age_s == 2
    assert ford.online is False and ford.reason == "connection lost" and ford.last_seen_age_s == 20 and ford.alarms == ()
    assert [r.station for r in state.rows(NOW)][0] == pond.station  # stations with the worst alarms first


def test_a_cleared_alarm_stays_closed_when_old_steps_are_redelivered() -> None:
    state = FleetState()
    state.handle(POND.event("water_level"), alarm(POND, 1, "raised"), False, NOW)
    state.handle(POND.event("water_level"), alarm(POND, 2, "acked"), False, NOW)
    assert [a.state for a in state.rows(NOW)[0].alarms] == ["acked"]
    state.handle(POND.event("water_level"), alarm(POND, 3, "cleared"), False, NOW)
    state.handle(POND.event("water_level"), alarm(POND, 1, "raised"), False, NOW)  # a redelivery after reconnection
    state.handle(POND.event("water_level"), alarm(POND, 2, "acked"), False, NOW)
    assert state.rows(NOW)[0].alarms == ()


def test_garbage_and_foreign_topics_change_nothing() -> None:
    state = FleetState("vs/v1/410421")
    assert not state.handle(POND.health, b"{oops", False, NOW)
    assert not state.handle("vs/v1/410421/xiaoqi", b"{}", False, NOW)
    assert not state.handle(POND.snapshot("a1"), b"\xff\xd8", False, NOW)
    assert not state.handle("vs/v1/999999/x/y/z/status", status(POND, True), False, NOW)
    assert state.malformed == 1 and state.rows(NOW) == []


def test_render_shows_every_column() -> None:
    state = FleetState()
    state.handle(POND.status, status(POND, True), True, NOW)
    state.handle(POND.event("water_level"), alarm(POND, 1, "raised"), False, NOW)
    state.handle(POND.telemetry("gauge-1"), to_payload(Telemetry(**env(POND, 2), sensor="gauge-1", values={"level_m": 1})), False, NOW)
    from rich.console import Console

    def shown(*lang: str) -> str:
        console = Console(width=200, record=True)
        console.print(render(state.rows(NOW + 3), "t", *lang))
        return console.export_text()

    zh = shown()  # Chinese unless asked otherwise
    assert "410421/xiaoqi/zhuwa/pond-01" in zh and "在线" in zh and "水位（危险）" in zh and "3 秒前" in zh
    assert all(column in zh for column in ("站点", "状态", "最后消息", "当前告警", "队列", "摄像头帧率"))
    assert "共 1 个站点，1 个在线，1 条当前告警" in zh and "online" not in zh and "water_level" not in zh
    en = shown("en")
    assert "410421/xiaoqi/zhuwa/pond-01" in en and "online" in en and "water level (danger)" in en and "3 s ago" in en
    assert "1 stations, 1 online, 1 active alarms" in en and "在线" not in en and "水位" not in en


def test_render_words_offline_and_acknowledged_in_both_languages() -> None:
    state = FleetState()
    state.handle(FORD.status, status(FORD, False, "connection lost"), True, NOW)
    state.handle(POND.status, status(POND, True), True, NOW)
    state.handle(POND.event("smoke"), alarm(POND, 1, "raised", "critical", event_id="s1", kind="smoke"), False, NOW - 600)
    state.handle(POND.event("smoke"), alarm(POND, 2, "acked", "critical", event_id="s1", kind="smoke"), False, NOW - 600)
    from rich.console import Console

    texts = {}
    for lang in ("zh", "en"):
        console = Console(width=200, record=True)
        console.print(render(state.rows(NOW), "t", lang))
        texts[lang] = console.export_text()
    assert "离线 连接中断" in texts["zh"] and "烟雾（紧急，已确认）" in texts["zh"] and "10 分钟前" in texts["zh"] and "无" in texts["zh"]
    assert "offline connection lost" in texts["en"] and "smoke (critical, acked)" in texts["en"] and "10 min ago" in texts["en"]
    assert "none" in texts["en"]


def test_cli_once_against_a_broker_with_a_database_and_a_lost_station(broker: LocalBroker, tmp_path: Path, fleet: FleetFactory) -> None:
    url = f"sqlite:///{tmp_path / 'county.db'}"
    store = Store(url)
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-watch").start()
    assert member.connected.wait(10)
    time.sleep(0.3)
    f = fleet(broker.port, 6)
    lost = fleet(broker.port, 1, first=6, name="lost")
    f.call(lambda: f.stations[2].raise_alarm("person_in_water_zone", "critical"))
    f.call(lambda: [s.emit(Emit("health", {"camera_fps": {"cam-1": 12.5}}), time.monotonic()) for s in f.stations])
    assert wait_for(lambda: store.query("SELECT COUNT(*) FROM health")[0][0] == 6, timeout=10)
    lost.stop(goodbye=False)  # the broker publishes its Will
    runner = CliRunner()
    try:
        live = runner.invoke(app, ["watch", "vs/v1/410421", "--broker", f"127.0.0.1:{broker.port}", "--once", "--seconds", "1", "--lang", "en"],
                             env={"COLUMNS": "200"})
        assert live.exit_code == 0, live.output
        assert "7 stations, 6 online" in live.output and "connection lost" in live.output  # from the retained statuses
        assert "person in the water zone" not in live.output  # raised before this watch listened: only the database knows
        seeded = runner.invoke(app, ["watch", "410421/t00", "--broker", f"127.0.0.1:{broker.port}", "--once", "--seconds", "1",
                                     "--db", url, "--lang", "en"], env={"COLUMNS": "200"})
        assert seeded.exit_code == 0, seeded.output
        assert "person in the water zone (critical)" in seeded.output and "cam-1 12.5" in seeded.output
        first_row = next(line for line in seeded.output.splitlines() if "sim-" in line)
        assert "sim-0002" in first_row  # the critical alarm on top
        chinese = runner.invoke(app, ["watch", "410421/t00", "--broker", f"127.0.0.1:{broker.port}", "--once", "--seconds", "1",
                                      "--db", url], env={"COLUMNS": "200", "LANG": "C.UTF-8"})  # no --lang, no English LANG: Chinese
        assert chinese.exit_code == 0, chinese.output
        assert "站点实时状态" in chinese.output and "有人进入危险水域（紧急）" in chinese.output and "在线" in chinese.output
        assert "共 7 个站点，6 个在线" in chinese.output and "离线 连接中断" in chinese.output and "online" not in chinese.output
        timed = runner.invoke(app, ["watch", "--broker", f"127.0.0.1:{broker.port}", "--seconds", "1"], env={"COLUMNS": "200"})
        assert timed.exit_code == 0 and "sim-0005" in timed.output
    finally:
        member.stop()
        store.close()
