"""`stationctl check`: every device exercised with its real driver, a real broker round trip."""

from __future__ import annotations

import json
from pathlib import Path

import cv2

from drivers.water_level.frames import binary_frame
from tests.drivers.conftest import StreamingSensor, sim_device
from tests.provisioning.conftest import SSD, SSD_SHA256, STATION, VIDEO, sim_station, stationctl
from tests.stations import write_station


def rows(doc: dict) -> dict[tuple[str, str], dict]:
    return {(r["check"], r["target"]): r for r in doc["results"]}


def test_check_simulated_station_passes_with_json(station_file: Path, tmp_path: Path, broker) -> None:
    snaps = tmp_path / "snaps"
    result = stationctl("check", "--config", station_file, "--json", "--snapshot-dir", snaps, "--samples", 3)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["station"] == STATION and doc["counts"]["fail"] == 0
    r = rows(doc)
    water = r[("water", "gauge-1")]
    assert water["status"] == "pass" and water["values"]["levels_m"] == [0.42, 0.42, 0.42]
    assert r[("fire", "smoke-1")]["values"]["states"] == [False, False, False]
    cam = r[("camera", "cam-1")]
    assert cam["status"] == "pass" and cam["values"]["width"] == 768 and cam["values"]["fps"] > 0
    snapshot = cv2.imread(cam["artifacts"]["snapshot"])
    assert snapshot is not None and snapshot.shape == (576, 768, 3)
    speaker = r[("speaker", "loudspeaker")]
    assert speaker["status"] == "pass" and speaker["values"]["completed"] is True
    plays = [json.loads(line) for line in (tmp_path / "speaker" / "plays.jsonl").read_text(encoding="utf-8").splitlines()]
    assert plays[-1]["text"] == speaker["values"]["phrase"]
    link = r[("broker", f"127.0.0.1:{broker.port}")]
    assert link["status"] == "pass"
    assert link["values"]["topic"].startswith(f"vs/v1/{STATION}/selftest/")
    assert link["values"]["round_trip_ms"] >= 0 and link["values"]["connect_ms"] >= 0


def test_check_real_drivers_serial_modbus_gpio_alsa(tmp_path: Path, broker, socat, modbus_server, pin_factory) -> None:
    ultrasonic_line, modbus_line = socat(), socat()
    stream = StreamingSensor(ultrasonic_line.b, binary_frame(1800))  # 1.80 m down to the water
    modbus_server(modbus_line.b, [sim_device(1, holding=[640], inputs=[0])])  # 0.640 m
    doc = sim_station(tmp_path, broker.port)
    doc["water_sensors"] = [
        {"id": "bridge-gauge", "rules": {"warning_m": 1.8, "danger_m": 2.4},
         "driver": {"type": "ultrasonic", "port": str(ultrasonic_line.a), "mount_height_m": 3.2}},
        {"id": "pond-pressure", "rules": {"warning_m": 1.2, "danger_m": 1.6},
         "driver": {"type": "modbus", "port": str(modbus_line.a), "slave_id": 1, "address": 0, "timeout_s": 0.5}},
    ]
    doc["fire_inputs"] = [{"id": "flame-east", "kind": "fire", "driver": {"type": "gpio", "pin": 17, "pull": "up", "active": "low"}}]
    doc["loudspeaker"] = {"driver": {"type": "alsa", "device": "null", "cache_dir": str(tmp_path / "tts"),
                                     "amplifier": {"pin": 27, "warmup_s": 0, "hold_s": 0}}}
    config = write_station(tmp_path / "station.yaml", doc)
    try:
        result = stationctl("check", "--config", config, "--json", "--samples", 3, "--frames", 3, "--snapshot-dir", tmp_path / "s")
    finally:
        stream.stop()
    assert result.exit_code == 0, result.output
    r = rows(json.loads(result.stdout))
    assert r[("serial", str(ultrasonic_line.a))]["status"] == "pass"
    gauge = r[("water", "bridge-gauge")]
    assert gauge["values"]["levels_m"] == [1.4, 1.4, 1.4] and gauge["values"]["raw"]["distance_mm"] == 1800
    assert r[("water", "pond-pressure")]["values"]["median_m"] == 0.64
    assert r[("fire", "flame-east")]["values"]["states"] == [False, False, False]
    speaker = r[("speaker", "loudspeaker")]
    assert speaker["status"] == "pass" and speaker["values"]["driver"] == "alsa" and speaker["values"]["completed"]
    assert r[("broker", f"127.0.0.1:{broker.port}")]["status"] == "pass"
    assert list((tmp_path / "tts").glob("tts-*.wav")), "espeak-ng should have spoken the phrase into the cache"


def test_check_failures_exit_1_with_next_steps(tmp_path: Path, broker, pin_factory) -> None:
    doc = sim_station(tmp_path, broker.port)
    doc["water_sensors"][0]["driver"] = {"type": "ultrasonic", "port": str(tmp_path / "ttyUSB9"), "mount_height_m": 3.0, "timeout_s": 0.2}
    doc["cameras"][0]["driver"]["path"] = str(tmp_path / "missing.mp4")
    pin_factory.pin(17).drive_low()  # a flame sensor pulls its output low: fire now
    doc["fire_inputs"] = [{"id": "flame-east", "kind": "fire", "driver": {"type": "gpio", "pin": 17, "pull": "none", "active": "low"}}]
    config = write_station(tmp_path / "station.yaml", doc)
    broker.stop()

    result = stationctl("check", "--config", config, "--json", "--samples", 2, "--snapshot-dir", tmp_path / "s")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    r = rows(doc)
    assert r[("serial", str(tmp_path / "ttyUSB9"))]["status"] == "fail"
    water = r[("water", "gauge-1")]
    assert water["status"] == "fail" and "cannot open serial port" in water["summary"] and water["hint"]
    assert r[("camera", "cam-1")]["status"] == "fail" and "not found" in r[("camera", "cam-1")]["summary"]
    flame = r[("fire", "flame-east")]
    assert flame["status"] == "warn" and flame["values"]["states"] == [True, True] and "pull" in flame["hint"]
    link = r[("broker", f"127.0.0.1:{broker.port}")]
    assert link["status"] == "fail" and "refused" in link["summary"] and "broker.host" in link["hint"]
    assert all(row["hint"] for row in doc["results"] if row["status"] == "fail")

    table = stationctl("check", "--config", config, "--only", "broker", "--lang", "en")
    assert table.exit_code == 1
    assert "FAIL" in table.output and "next:" in table.output and "1 check(s) failed" in table.output
    chinese = stationctl("check", "--config", config, "--only", "broker", "--lang", "zh")
    assert chinese.exit_code == 1
    assert "失败" in chinese.output and "下一步：" in chinese.output and "1 项检查失败" in chinese.output and "FAIL" not in chinese.output


def test_check_refuses_a_broken_station_file(tmp_path: Path) -> None:
    bad = tmp_path / "station.yaml"
    bad.write_text("station:\n  county: '1'\n  town: t\n  village: v\n  id: s\nbroker:\n  port: 99999\n")
    result = stationctl("check", "--config", bad)
    assert result.exit_code == 2
    assert "broker.port (line 7)" in result.output and f"stationctl validate {bad}" in result.output
    unknown = stationctl("check", "--config", bad, "--only", "sonar")
    assert unknown.exit_code == 2


def test_check_runs_each_cameras_person_detector(tmp_path: Path, broker) -> None:
    model = {"path": str(SSD / "detect.tflite"), "labels": str(SSD / "labelmap.txt"), "sha256": SSD_SHA256}
    doc = sim_station(tmp_path, broker.port)
    doc["cameras"][0]["detection"] = {"model": model}
    doc["cameras"].append({"id": "cam-2", "driver": {"type": "file", "path": str(VIDEO), "fps": 25},
                           "detection": {"model": {**model, "sha256": "0" * 64}}})
    for cam, centre in (("cam-3", {}), ("cam-4", {"centre_sha256": "0" * 64})):  # the camera's own head, not the SSD alone
        doc["cameras"].append({"id": cam, "driver": {"type": "file", "path": str(VIDEO), "fps": 25},
                               "detection": {"model": model, "head": "centre", **centre}})
    config = write_station(tmp_path / "station.yaml", doc)
    result = stationctl("check", "--config", config, "--json", "--only", "camera", "--frames", 3, "--snapshot-dir", tmp_path / "s")
    assert result.exit_code == 1
    r = rows(json.loads(result.stdout))
    good = r[("camera", "cam-1")]
    assert good["status"] == "pass" and good["values"]["persons"] >= 1, good  # vtest.avi always shows pedestrians
    bad = r[("camera", "cam-2")]
    assert bad["status"] == "fail" and "sha256" in bad["summary"] and "stationctl model install" in bad["hint"]
    assert r[("camera", "cam-3")]["status"] == "pass" and r[("camera", "cam-3")]["values"]["persons"] >= 1
    assert r[("camera", "cam-4")]["status"] == "fail" and "sha256" in r[("camera", "cam-4")]["summary"]
