"""The live feed's lines: Chinese by default, English with `lang="en"` / `--lang en`; what is counted is the same in both."""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from county.cli import app
from county.feed import FeedCollector
from gateway.localbroker import LocalBroker
from wire.messages import Alarm, Health, Notice, Playback, Reply, Status, Telemetry, Topics, WireModel, to_payload

POND = Topics("410421", "xiaoqi", "zhuwa", "pond-01")


def env(seq: int, event_id: str | None = None) -> dict[str, Any]:
    return {"station": "410421/xiaoqi/zhuwa/pond-01", "seq": seq, "event_id": event_id or f"m{seq}", "ts": "2027-01-15T07:00:00Z",
            "clock_synced": True, "boot_id": "b"}


def flood(seq: int, state: str = "raised") -> Alarm:
    return Alarm(**env(seq, "a1"), alarm="flash_flood", state=state, severity="danger", category="safety", source="gauge-1",
                 summary="water rising 0.050 m/min", details={"rise_m_per_min": 0.05, "threshold_m_per_min": 0.03}, raised_at="2027-01-15T08:00:00Z")


MESSAGES: list[tuple[str, WireModel, bool]] = [
    (POND.status, Status(**env(0), online=True, version="0.9.1", config_hash="c0ffee", capabilities=["water_level", "loudspeaker"]), True),
    (POND.event("flash_flood"), flood(1), False),
    (POND.event("water_level"), Alarm(**env(2, "a2"), alarm="water_level", state="acked", severity="warning", category="safety", source="gauge-1",
                                      details={"level_m": 1.7, "warning_m": 1.5, "danger_m": 2.0}, acked_by="王明", raised_at="2027-01-15T08:00:00Z"), False),
    (POND.event("flash_flood"), flood(3, "cleared"), False),
    (POND.telemetry("gauge-1"), Telemetry(**env(4), sensor="gauge-1", values={"level_m": 1.23}), False),
    (POND.health, Health(**env(5), uptime_s=125.4, queue_depth=3, queue_bytes=0, dropped_total=7, rss_bytes=50 * 2**20,
                         devices={"gauge-1": "ok", "uplink": "connected"}), False),
    (f"{POND.prefix}/playback", Playback(**env(6), key="flash_flood", what="山洪危险，请远离河道", priority="emergency", outcome="completed", plays=2), False),
    (f"{POND.prefix}/notice", Notice(**env(7), notice="device_offline", severity="warning", source="gauge-1", summary="gauge-1 went offline"), False),
    (f"{POND.prefix}/notice", Notice(**env(8), notice="brand_new_notice", severity="info", summary="something new"), False),
    (POND.reply("c1"), Reply(**env(9), command_id="c1", command="config/set", ok=False, outcome="rejected", reason="bad signature"), False),
    (POND.telemetry("gauge-1"), Telemetry(**env(4), sensor="gauge-1", values={"level_m": 1.23}), False),  # a redelivery
    (POND.status, Status(**env(0), online=False, reason="connection lost"), False),
]


def lines(collector: FeedCollector) -> list[str]:
    out = []
    for topic, message, retained in MESSAGES:
        line = collector.handle(topic, to_payload(message), retained)
        assert line is not None, topic
        out.append(line.text)
    snapshot = collector.handle(POND.snapshot("a1"), b"\xff\xd8" * 50)
    assert snapshot is not None
    return [*out, snapshot.text]


def test_the_feed_speaks_chinese_by_default() -> None:
    status, raised, acked, cleared, telemetry, health, playback, known, unknown, reply, again, offline, snapshot = lines(FeedCollector())
    assert status == "在线 v0.9.1 配置 c0ffee 功能 水位、广播 [保留消息]"
    assert raised == "告警触发 山洪 [危险] gauge-1 水位快速上涨：每分钟 0.050 米（阈值 0.03 米/分钟）"  # the county's sentence, not the station's
    assert acked == "告警已确认 水位 [警告] gauge-1 水位 1.70 米，超过警戒水位 1.50 米，确认人 王明"
    assert cleared.startswith("告警已解除 山洪 [危险] ") and "不再快速上涨" in cleared
    assert telemetry == "遥测 gauge-1：level_m=1.23"
    assert health == "健康：运行 125 秒，队列 3，丢弃 7，内存 50 MiB，设备 gauge-1 正常、uplink 已连接"
    assert playback == "广播 已播完 ×2 [紧急]：山洪危险，请远离河道"
    assert known == "通知 [警告] 设备离线：gauge-1"
    assert unknown == "通知 brand_new_notice [提示]：something new"  # a kind this county does not know: the station's words
    assert reply == "回复 修改配置 被拒绝：bad signature"
    assert again == "遥测 gauge-1：level_m=1.23（重复投递）"
    assert offline == "离线（连接中断）"
    assert snapshot == "快照 100 字节，告警 a1"


def test_the_feed_in_english_and_the_counts_do_not_depend_on_the_language() -> None:
    zh, en = FeedCollector(), FeedCollector(lang="en")
    lines(zh)
    status, raised, acked, _, telemetry, health, playback, known, _, reply, again, offline, snapshot = lines(en)
    assert status == "ONLINE v0.9.1 config c0ffee caps water level, loudspeaker [retained]"
    assert raised == "ALARM RAISED flash flood [danger] gauge-1: water rising fast, 0.050 m/min (limit 0.03 m/min)"
    assert acked == "ALARM ACKED water level [warning] gauge-1: water level 1.70 m, above the warning mark 1.50 m, acked by 王明"
    assert telemetry == "telemetry gauge-1: level_m=1.23" and again == "telemetry gauge-1: level_m=1.23 (redelivery)"
    assert health == "health: up 125s, queue 3, dropped 7, rss 50 MiB, devices gauge-1=ok, uplink=connected"
    assert playback == "LOUDSPEAKER completed x2 [emergency]: 山洪危险，请远离河道"
    assert known == "NOTICE [warning] device offline: gauge-1"
    assert reply == "REPLY config/set rejected: bad signature"
    assert offline == "OFFLINE (connection lost)" and snapshot == "snapshot 100 bytes for a1"
    for name in ("counts", "alarm_states", "playbacks", "status", "messages", "malformed"):
        assert getattr(zh, name) == getattr(en, name), name
    assert {s: (t.seen, t.duplicates) for s, t in zh.seqs.items()} == {s: (t.seen, t.duplicates) for s, t in en.seqs.items()}
    assert zh.alarm_states == {"raised": 1, "acked": 1, "cleared": 1} and zh.seqs["410421/xiaoqi/zhuwa/pond-01"].duplicates == 1


def run_feed(broker: LocalBroker, *extra: str, lang_env: str = "C.UTF-8") -> str:
    """`countyctl feed` for 2 s against the broker; the retained status is there before, an alarm arrives while it listens."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.publish(POND.status, to_payload(MESSAGES[0][1]), qos=1, retain=True).wait_for_publish(5)
        later = threading.Timer(0.8, lambda: client.publish(POND.event("flash_flood"), to_payload(flood(1)), qos=1))
        later.start()
        result = CliRunner().invoke(app, ["feed", "vs/v1/410421", "--broker", f"127.0.0.1:{broker.port}", "--seconds", "2", *extra],
                                    env={"COLUMNS": "250", "LANG": lang_env})
        later.join()
    finally:
        client.loop_stop()
        client.disconnect()
    assert result.exit_code == 0, result.output
    return result.output


def test_countyctl_feed_is_chinese_unless_asked(broker: LocalBroker) -> None:
    zh = run_feed(broker)
    assert "410421/xiaoqi/zhuwa/pond-01 #0 在线 v0.9.1" in zh and "[保留消息]" in zh
    assert "410421/xiaoqi/zhuwa/pond-01 #1 告警触发 山洪 [危险] gauge-1 水位快速上涨" in zh and "ALARM" not in zh
    en = run_feed(broker, "--lang", "en")
    assert "#0 ONLINE v0.9.1" in en and "#1 ALARM RAISED flash flood [danger] gauge-1: water rising fast" in en and "告警" not in en
    assert "ALARM RAISED flash flood" in run_feed(broker, lang_env="en_US.UTF-8")  # an English LANG asks for English too


def test_a_kind_the_feed_does_not_know_yet_is_shown_raw_not_raised() -> None:
    """A newer station's message kind (its times already parsed to datetimes) becomes one raw line, never an exception in paho's thread."""
    from datetime import datetime, timezone

    from county.feed import _line

    line = _line("zh", "forecast", {"kind": "forecast", "ts": datetime(2026, 12, 4, tzinfo=timezone.utc), "level_m": 1.5}, False, True)
    assert line.startswith('{"kind": "forecast", "ts": "2026-12-04 00:00:00+00:00"') and '"level_m": 1.5' in line
