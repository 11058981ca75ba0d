"""A pond station with a real camera feed and the real model, end to end to the county."""

from __future__ import annotations

import hashlib
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config.station import load_config
from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.stations import subscribe, wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_person_in_zone_reaches_the_county_with_snapshot_and_warning(broker: LocalBroker, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(ROOT)  # the example's paths are relative to the project root
    cfg = load_config(ROOT / "examples/pond-station.yaml")
    cfg = cfg.model_copy(update={
        "broker": cfg.broker.model_copy(update={"port": broker.port}),
        "outbox": cfg.outbox.model_copy(update={"path": tmp_path / "outbox.db"}),
        "loudspeaker": cfg.loudspeaker.model_copy(update={"driver": cfg.loudspeaker.driver.model_copy(update={"record_dir": tmp_path / "speaker"})}),
    })
    snapshots: dict[str, bytes] = {}
    grab = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    grab.on_message = lambda c, u, m: snapshots.__setitem__(m.topic, bytes(m.payload))
    grab.connect("127.0.0.1", broker.port)
    grab.subscribe("vs/v1/+/+/+/+/snapshot/#", qos=1)
    grab.loop_start()
    collector, sub = subscribe(broker.port)
    station = Station(cfg)
    station.start()
    try:
        raised = lambda: [m for m in collector.messages if m["kind"] == "alarm" and m["alarm"] == "person_in_water_zone" and m["state"] == "raised"]  # noqa: E731
        assert wait_for(lambda: raised(), timeout=60)
        alarm = raised()[0]
        assert wait_for(lambda: alarm["snapshot"] and alarm["snapshot"]["topic"] in snapshots, timeout=20)
        assert wait_for(lambda: collector.playbacks["completed"] >= 1, timeout=60)
    finally:
        station.stop()
        sub.stop()
        grab.loop_stop()
        grab.disconnect()
    assert alarm["source"] == "pond-cam/water" and alarm["severity"] == "danger"
    assert alarm["details"]["count"] >= 1 and alarm["details"]["track_ids"]
    jpeg = snapshots[alarm["snapshot"]["topic"]]
    assert jpeg[:3] == b"\xff\xd8\xff" and len(jpeg) <= 150_000
    assert hashlib.sha256(jpeg).hexdigest() == alarm["snapshot"]["sha256"]
    playback = next(m for m in collector.messages if m["kind"] == "playback")
    assert playback["ref"] == alarm["event_id"] and "这里不是游泳区域" in playback["what"]
