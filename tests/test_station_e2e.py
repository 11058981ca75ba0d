"""One simulated station end to end against a real mosquitto: what the county sees."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.stations import config_of, station_dict, subscribe, wait_for


def alarm_states(collector, kind: str) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(m["state"], m["severity"]) for m in collector.messages if m["kind"] == "alarm" and m["alarm"] == kind]


def first_deliveries(collector, predicate) -> list[int]:  # noqa: ANN001
    seen: set[int] = set()
    out = []
    for m in collector.messages:
        if m["kind"] != "status" and predicate(m) and m["seq"] not in seen:
            seen.add(m["seq"])
            out.append(m["seq"])
    return out


def test_station_delivers_lifecycle_telemetry_status_and_playback(broker: LocalBroker, tmp_path: Path) -> None:
    collector, sub = subscribe(broker.port)
    station = Station(config_of(station_dict(tmp_path, broker.port)))
    station.start()
    try:
        assert wait_for(lambda: ("cleared", "warning") in alarm_states(collector, "water_level"), timeout=20)
        assert wait_for(lambda: collector.playbacks["completed"] >= 1, timeout=10)
    finally:
        station.stop()
    assert wait_for(lambda: collector.status.get("410421/xiaoqi/zhuwa/test-01") is False, timeout=5)
    sub.stop()

    assert alarm_states(collector, "water_level") == [("raised", "warning"), ("updated", "danger"), ("updated", "warning"), ("cleared", "warning")]
    lifecycle = [m for m in collector.messages if m["kind"] == "alarm" and m["alarm"] == "water_level"]
    assert len({m["event_id"] for m in lifecycle}) == 1
    assert lifecycle[1]["details"]["level_m"] >= 2.0
    telemetry = [m for m in collector.messages if m["kind"] == "telemetry"]
    assert telemetry and all(m["sensor"] == "gauge-1" and "level_m" in m["values"] for m in telemetry)
    statuses = [m for m in collector.messages if m["kind"] == "status"]
    assert statuses[0]["online"] and statuses[0]["capabilities"] == ["water_level", "loudspeaker"]
    assert statuses[-1]["online"] is False and statuses[-1]["reason"] == "shutdown"
    playback = next(m for m in collector.messages if m["kind"] == "playback")
    assert playback["outcome"] == "completed" and playback["ref"] == lifecycle[0]["event_id"]
    assert "水位危险" in playback["what"]
    for m in collector.messages:  # the envelope on every message
        assert m["station"] == "410421/xiaoqi/zhuwa/test-01" and m["clock_synced"] is True and len(m["boot_id"]) == 16
    seqs = [m["seq"] for m in collector.messages if m["kind"] != "status"]
    assert sorted(set(seqs)) == list(range(len(set(seqs))))
    assert not collector.malformed


def test_alarms_raised_during_outage_arrive_in_order_after_it(tmp_path: Path) -> None:
    broker = LocalBroker(workdir=tmp_path / "broker", persistent=True).start()
    collector, sub = subscribe_durable(broker.port)
    doc = station_dict(tmp_path, broker.port)
    doc["water_sensors"][0]["driver"]["scenario"] = [{"at_s": 0, "level_m": 0.5}, {"at_s": 2.0, "level_m": 0.5},
                                                     {"at_s": 3.0, "level_m": 2.5}, {"at_s": 4.0, "level_m": 0.5}]
    station = Station(config_of(doc))
    try:
        station.start()
        assert wait_for(lambda: station.uplink.stats.connected, timeout=10)
        broker.stop()  # the link goes down before the flood comes
        assert wait_for(lambda: station.outbox.stats().alarms >= 4, timeout=15), station.outbox.stats()
        queued = station.outbox.stats()
        assert queued.depth > queued.alarms  # telemetry kept queueing too
        # the warning was played on the spot while the link was down
        plays = tmp_path / "speaker" / "plays.jsonl"
        assert wait_for(plays.exists, timeout=10)
        restarted_at = time.time()
        broker.start()
        assert wait_for(lambda: station.outbox.stats().depth == 0 and ("cleared", "warning") in alarm_states(collector, "water_level"), timeout=30)
    finally:
        station.stop()
        sub.stop()
        broker.stop()
    assert alarm_states(collector, "water_level") == [("raised", "warning"), ("updated", "danger"), ("updated", "warning"), ("cleared", "warning")]
    alarms = first_deliveries(collector, lambda m: m["kind"] in ("alarm", "playback", "notice"))
    telemetry = first_deliveries(collector, lambda m: m["kind"] in ("telemetry", "health"))
    assert alarms == sorted(alarms) and telemetry == sorted(telemetry)
    everything = sorted(set(alarms) | set(telemetry))
    assert everything == list(range(len(everything)))
    assert station.uplink.stats.connects >= 2
    first_play = json.loads(plays.read_text(encoding="utf-8").splitlines()[0])
    assert first_play["start"] < restarted_at and "水位危险" in first_play["text"]


def test_corrupt_outbox_is_reported_on_the_wire(broker: LocalBroker, tmp_path: Path) -> None:
    (tmp_path / "outbox.db").write_bytes(b"\x00garbage from a dying SD card" * 200)
    collector, sub = subscribe(broker.port)
    station = Station(config_of(station_dict(tmp_path, broker.port)))
    station.start()
    try:
        assert wait_for(lambda: any(m.get("notice") == "outbox_corrupt" for m in collector.messages), timeout=15)
    finally:
        station.stop()
        sub.stop()
    notice = next(m for m in collector.messages if m.get("notice") == "outbox_corrupt")
    assert notice["severity"] == "danger" and Path(notice["details"]["moved_to"]).exists()


def subscribe_durable(port: int):  # noqa: ANN201
    from county.feed import FeedCollector, FeedSubscriber

    collector = FeedCollector()
    sub = FeedSubscriber("127.0.0.1", port, "vs/v1", collector, client_id="county-test", durable=True).start()
    assert sub.connected.wait(10)
    return collector, sub


def test_garbage_command_is_rejected_and_station_keeps_running(broker: LocalBroker, tmp_path: Path) -> None:
    collector, sub = subscribe(broker.port)
    station = Station(config_of(station_dict(tmp_path, broker.port)))
    station.start()
    try:
        assert wait_for(lambda: station.uplink.stats.connected, timeout=10)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        for body in (b"\xff\xfe not json", b'{"id": 1}', json.dumps({"text": "x" * 10000}).encode()):
            pub.publish("vs/v1/410421/xiaoqi/zhuwa/test-01/cmd/announce", body, qos=1).wait_for_publish(5)
        assert wait_for(lambda: sum(1 for m in collector.messages if m["kind"] == "notice" and m["notice"] == "command_rejected") == 3)
        assert wait_for(lambda: ("cleared", "warning") in alarm_states(collector, "water_level"), timeout=20)
        pub.loop_stop()
        pub.disconnect()
    finally:
        station.stop()
        sub.stop()
    assert collector.playbacks["completed"] >= 1  # the loudspeaker only ever played the alarm's own action
    assert not any(m["kind"] == "playback" and "x" * 20 in m["what"] for m in collector.messages)
