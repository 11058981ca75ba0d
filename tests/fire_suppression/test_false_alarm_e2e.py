""""False alarm here" end to end: a real mosquitto, a Station with a camera on a fire still and the
shipped fire model, the county's signed `false_alarm` command, a restart, and `stationctl suppressions`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from county.keys import generate, load_signing_key
from gateway.localbroker import LocalBroker
from gateway.station import Station
from gateway.vision.suppressions import suppressions_path
from tests.commands.conftest import STATION, RawPublisher, commands_doc, replies, send, signed, wait_reply
from tests.stations import config_of, subscribe, wait_for, write_station

ROOT = Path(__file__).resolve().parents[2]
FIRE = Path("/work/shared/media/fire/fire-basket.jpg")
CAM = "ridge-cam"


def fire_scene(path: Path, left: bool) -> Path:
    """A wide frame of grass with the fire still on its left or its right side."""
    fire = cv2.imread(str(FIRE))
    assert fire is not None
    canvas = np.full((480, 1280, 3), (70, 110, 80), np.uint8)
    part = cv2.resize(fire, (int(fire.shape[1] * 240 / fire.shape[0]), 240))[:, 30:230]
    x = 60 if left else 1280 - 60 - part.shape[1]
    canvas[200:440, x : x + part.shape[1]] = part
    cv2.imwrite(str(path), canvas)
    return path


def station_doc(tmp: Path, port: int, key: Any, scene: Path) -> dict[str, Any]:
    """The test station of tests/commands with the forest-edge camera (the shipped v3 detector) on a still."""
    doc = commands_doc(tmp, port, key)
    doc["water_sensors"][0]["driver"]["scenario"] = [{"at_s": 0, "level_m": 0.5}]
    doc["health"]["interval_s"] = 2
    forest = yaml.safe_load((ROOT / "examples/forest-edge.yaml").read_text(encoding="utf-8"))
    cam = forest["cameras"][0]
    cam["driver"] = {"type": "file", "path": str(scene), "loop": True, "fps": 5}
    cam["motion"] = {"enabled": False}
    cam["max_fps"] = 5
    cam["fire_smoke"].update(trigger_frames=3, window_frames=5, clear_after_s=2)
    doc["cameras"] = [cam]
    return doc


def started(doc: dict[str, Any]) -> Station:
    station = Station(config_of(doc))
    station.start()
    assert wait_for(lambda: station.uplink.stats.connected, timeout=10)
    return station


def fire_alarms(collector, state: str, since: int = 0) -> list[dict[str, Any]]:  # noqa: ANN001
    with collector.lock:
        return [m for m in collector.messages[since:] if m["kind"] == "alarm" and m["alarm"] == "fire" and m["state"] == state]


def stationctl(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LANG": "C.UTF-8"}  # Chinese unless --lang en
    return subprocess.run([sys.executable, "-m", "provisioning.cli", "suppressions", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)


def countyctl_send(port: int, key_path: Path, *args: str) -> list[dict[str, Any]]:
    """`countyctl send STATION false_alarm --arg ...`: the replies it printed."""
    sent = subprocess.run([sys.executable, "-m", "county.cli", "send", STATION, "false_alarm", "--key", str(key_path),
                           "--broker", f"127.0.0.1:{port}", "--timeout", "30", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert sent.returncode in (0, 1), sent.stderr
    return [json.loads(line) for line in sent.stdout.splitlines() if line.startswith("{")]


def test_false_alarm_suppresses_that_spot_across_a_restart(broker: LocalBroker, tmp_path: Path) -> None:
    key_path = tmp_path / "county.key"
    generate(key_path)
    county_key = load_signing_key(key_path)
    left, right = fire_scene(tmp_path / "left.png", True), fire_scene(tmp_path / "right.png", False)
    collector, sub = subscribe(broker.port)
    raw = RawPublisher(broker.port)
    station = started(station_doc(tmp_path, broker.port, county_key, left))
    try:
        assert wait_for(lambda: fire_alarms(collector, "raised"), timeout=60), "the fire still raised no fire alarm"
        alarm = fire_alarms(collector, "raised")[0]
        assert alarm["source"] == CAM and alarm["details"]["box"][2] < 0.45  # the fire is on the left
        [reply] = countyctl_send(broker.port, key_path, "--arg", f"event_id={alarm['event_id']}", "--arg", "hours=48", "--id", "fa-1")
        doc = signed(county_key, "false_alarm", {"event_id": alarm["event_id"], "hours": 48}, command_id="fa-1")
        [missing] = send(broker.port, signed(county_key, "false_alarm", {"event_id": "no-such-alarm"}))
        unsigned = signed(county_key, "false_alarm", {"event_id": alarm["event_id"]})
        del unsigned["sig"]
        expired = signed(county_key, "false_alarm", {"event_id": alarm["event_id"]}, now=1_700_000_000)
        too_long = signed(county_key, "false_alarm", {"event_id": alarm["event_id"], "hours": 500})
        for bad in (unsigned, expired, too_long, doc):
            raw.publish("false_alarm", bad)
        rejected = {d["id"]: wait_reply(collector, d["id"]) for d in (unsigned, expired, too_long)}
        assert wait_for(lambda: len(replies(collector, "fa-1")) == 2)
        # the spot is suppressed: the alarm clears and does not come back while the still stays in view
        assert wait_for(lambda: fire_alarms(collector, "cleared"), timeout=20)
        mark = len(collector.messages)
        time.sleep(6)
        assert fire_alarms(collector, "raised", since=mark) == []
    finally:
        station.stop()
    assert reply["ok"] and reply["outcome"] == "suppressed", reply
    result = reply["result"]
    assert result["camera"] == CAM and result["alarm"] == "fire" and result["event_id"] == alarm["event_id"]
    assert result["region"][0] <= alarm["details"]["box"][0] and result["region"][2] >= alarm["details"]["box"][2]
    until = time.mktime(time.strptime(result["until"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert abs(until - (time.time() + 48 * 3600)) < 120
    assert not missing["ok"] and missing["outcome"] == "failed" and "no-such-alarm" in missing["reason"]
    assert [rejected[d["id"]]["result"]["code"] for d in (unsigned, expired, too_long)] == ["unsigned", "expired", "bad_arguments"]
    assert replies(collector, doc["id"])[1]["result"]["code"] == "replayed"

    # after a restart: a fire elsewhere in the frame still raises ...
    station = started(station_doc(tmp_path, broker.port, county_key, right))
    try:
        mark = len(collector.messages)
        assert wait_for(lambda: fire_alarms(collector, "raised", since=mark), timeout=60), "a fire elsewhere must still raise"
        assert wait_for(lambda: any(m["kind"] == "health" and m["devices"].get(f"suppressions:{CAM}") for m in collector.messages), timeout=30)
    finally:
        station.stop()
    # ... while the suppressed spot still does not
    station = started(station_doc(tmp_path, broker.port, county_key, left))
    try:
        mark = len(collector.messages)
        time.sleep(8)
        assert fire_alarms(collector, "raised", since=mark) == []
    finally:
        station.stop()
        raw.close()
        sub.stop()

    # the technician lists and clears it
    cfg_file = write_station(tmp_path / "station.yaml", station_doc(tmp_path, broker.port, county_key, left))
    listed = stationctl("list", "--config", str(cfg_file), "--lang", "en")
    assert listed.returncode == 0, listed.stderr
    assert CAM in listed.stdout and alarm["event_id"] in listed.stdout and "1 in force" in listed.stdout
    assert "误报屏蔽" not in listed.stdout
    zh = stationctl("list", "--config", str(cfg_file), "--camera", CAM)
    assert zh.returncode == 0 and "共 1 条" in zh.stdout
    cleared = stationctl("clear", "--config", str(cfg_file), "--camera", CAM, "--lang", "en")
    assert cleared.returncode == 0 and "Cleared 1" in cleared.stdout
    again = stationctl("list", "--config", str(cfg_file), "--lang", "en")
    assert "No false-alarm suppression in force" in again.stdout
    stored = json.loads(suppressions_path(tmp_path / "outbox.db").read_text(encoding="utf-8"))
    assert stored == {"suppressions": []}
