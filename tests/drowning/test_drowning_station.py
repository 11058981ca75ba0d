"""A running station with a real broker: the warning repeats while the person stays in the water,
stops when he has left, every play is reported on event/loudspeaker, and the strobe follows it."""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion

from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.drowning.clips import BANK_Y, WATER_Y, camera_doc, walk, write_clip
from tests.stations import config_of, station_dict, subscribe, wait_for

pytestmark = pytest.mark.timeout(300)
FPS = 4.0
STROBE = 22


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    """gpiozero's mock pins as the default factory (no GPIO here): the strobe relay is built from the config."""
    factory, previous = MockFactory(), Device.pin_factory
    Device.pin_factory = factory
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield factory
    factory.reset()
    Device.pin_factory = previous


def iso_seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_the_warning_repeats_until_the_water_is_empty_and_the_strobe_follows_it(broker: LocalBroker, tmp_path: Path, pins: MockFactory) -> None:
    tops = [BANK_Y] * 8 + walk(BANK_Y, WATER_Y, 4) + [WATER_Y] * 56 + walk(WATER_Y, BANK_Y, 12) + [BANK_Y] * 100
    clip = write_clip(tmp_path / "stay-and-leave.avi", tops, FPS)
    zone = {"severity": "warning", "escalate": [{"after_s": 6, "severity": "danger"}], "clear_after_s": 3, "lost_in_water": {"after_s": 4},
            "warning_repeat": {"interval_s": 3, "cycles": 2, "pause_s": 5}}
    doc = station_dict(tmp_path, broker.port, water_sensors=[], cameras=[camera_doc(clip, FPS, zone)])
    doc["loudspeaker"] = {
        "driver": {"type": "simulated", "record_dir": str(tmp_path / "speaker"), "seconds_per_char": 0.05,
                   "warning_light": {"pin": STROBE}},
        "actions": [{"alarm": "person_in_water_zone", "min_severity": "warning", "text": "请马上上岸", "priority": "warning"}],
    }
    strobe = pins.pin(STROBE)
    collector, sub = subscribe(broker.port)
    snapshots: dict[str, bytes] = {}
    grab = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    grab.on_message = lambda c, u, m: snapshots.__setitem__(m.topic, bytes(m.payload))
    grab.connect("127.0.0.1", broker.port)
    grab.subscribe("vs/v1/+/+/+/+/snapshot/#", qos=1)
    grab.loop_start()
    station = Station(config_of(doc))
    station.start()

    def alarms(state: str) -> list[dict]:
        return [m for m in collector.messages if m["kind"] == "alarm" and m["alarm"] == "person_in_water_zone" and m["state"] == state]

    try:
        assert not strobe.state
        assert wait_for(lambda: alarms("raised"), timeout=90)
        event_id = alarms("raised")[0]["event_id"]
        assert wait_for(lambda: strobe.state, timeout=10), "the strobe is not switched on with the warning"
        assert wait_for(lambda: alarms("cleared"), timeout=90)
        assert wait_for(lambda: not strobe.state, timeout=10), "the strobe stays on after the water is empty"
        time.sleep(8)  # longer than a run's pause: nothing more is played for him
    finally:
        station.stop()
        sub.stop()
        grab.loop_stop()
        grab.disconnect()
    plays = [m for m in collector.messages if m["kind"] == "playback" and m["ref"] == event_id]
    raised, cleared = alarms("raised")[0], alarms("cleared")[0]
    completed = [p for p in plays if p["outcome"] == "completed"]
    assert len(completed) >= 3, plays  # repeated while he stayed (about 14 s in the water)
    assert all(p["plays"] == 1 and "请马上上岸" in p["what"] for p in completed)
    starts = sorted(iso_seconds(p["started"]) for p in completed)
    assert all(b - a >= 2.5 for a, b in zip(starts, starts[1:]))  # the interval is kept, no burst
    assert starts[-1] <= iso_seconds(cleared["ts"]) + 0.5  # none after the water was empty (8 s more were watched)
    assert not [m for m in collector.messages if m["kind"] == "alarm" and m["alarm"] == "possible_submersion"]  # he walked out
    assert raised["severity"] == "warning" and cleared["details"]["count"] == 0
    updated = alarms("updated")
    assert len(updated) <= 2  # no update on a timer while he stays
    escalated = next(m for m in updated if m["severity"] == "danger")
    assert escalated["details"]["dwell_s"] >= 6 and escalated["snapshot"]["topic"].endswith(f"/snapshot/{event_id}-2")
    assert raised["snapshot"]["topic"].endswith(f"/snapshot/{event_id}")  # the raise's picture, then a fresh one
    assert wait_for(lambda: escalated["snapshot"]["topic"] in snapshots and raised["snapshot"]["topic"] in snapshots, timeout=10)
    assert hashlib.sha256(snapshots[escalated["snapshot"]["topic"]]).hexdigest() == escalated["snapshot"]["sha256"]
    assert cleared["snapshot"] == escalated["snapshot"]  # later steps refer to the newest


def test_a_warning_light_that_cannot_be_opened_is_reported_and_the_warning_still_plays(broker: LocalBroker, tmp_path: Path,
                                                                                     pins: MockFactory) -> None:
    doc = station_dict(tmp_path, broker.port)
    doc["loudspeaker"]["driver"]["warning_light"] = {"pin": "GPIO99"}  # no such pin on this board
    collector, sub = subscribe(broker.port)
    station = Station(config_of(doc))
    station.start()
    try:
        notice = lambda: [m for m in collector.messages if m["kind"] == "notice" and m.get("source") == "warning_light"]  # noqa: E731
        assert wait_for(notice, timeout=20)
        assert wait_for(lambda: collector.playbacks["completed"] >= 1, timeout=30)  # the flood warning plays without it
    finally:
        station.stop()
        sub.stop()
    assert "warning light unavailable" in notice()[0]["summary"]
