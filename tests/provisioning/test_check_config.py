"""`stationctl check` fails, with the reason and a next step, on a file that can never do what it says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.provisioning.conftest import VIDEO, sim_station, stationctl
from tests.stations import write_station

SAY_PERSON = {"alarm": "person_in_water_zone", "text": "水深危险,请马上离开水边", "priority": "emergency"}


def config_rows(tmp_path: Path, doc: dict[str, Any]) -> tuple[int, list[dict[str, Any]], str]:
    config = write_station(tmp_path / "station.yaml", doc)
    result = stationctl("check", "--config", config, "--only", "config", "--json")
    table = stationctl("check", "--config", config, "--only", "config", "--lang", "en")
    return result.exit_code, json.loads(result.stdout)["results"], table.output


def failing(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {r["target"]: r for r in rows if r["status"] == "fail"}
    assert all(r["hint"] for r in out.values()), "every failure names a next step"
    return out


def test_a_well_commissioned_pond_passes(tmp_path: Path) -> None:
    doc = sim_station(tmp_path, 1883)
    doc["loudspeaker"]["actions"].append(SAY_PERSON)
    code, rows, _ = config_rows(tmp_path, doc)
    assert code == 0 and [r["status"] for r in rows] == ["pass"]


def test_pond_camera_with_neither_model_nor_zone_fails_the_announced_alarm(tmp_path: Path) -> None:
    doc = sim_station(tmp_path, 1883)
    doc["cameras"] = [{"id": "cam-1", "driver": {"type": "file", "path": str(VIDEO)}}]
    doc["loudspeaker"]["actions"].append(SAY_PERSON)
    code, rows, table = config_rows(tmp_path, doc)
    assert code == 1
    bad = failing(rows)
    assert "no model" in bad["cam-1"]["summary"] and "stationctl model install" in bad["cam-1"]["hint"]
    action = bad["loudspeaker.actions[1] person_in_water_zone"]
    assert "can never be raised" in action["summary"] and "person detector" in action["summary"]
    assert "stationctl zone cam-1 --config" in action["hint"]
    assert "FAIL" in table and "next:" in table
    # the technician reads the same findings in Chinese (the default)
    assert "摄像头没有模型" in bad["cam-1"]["summary_zh"] and "stationctl model install" in bad["cam-1"]["hint_zh"]
    assert "永远不会产生" in action["summary_zh"] and "没有摄像头装有人员检测模型" in action["summary_zh"]
    assert "或删去这条动作" in action["hint_zh"]


def test_detector_without_zone_and_a_zone_never_armed(tmp_path: Path) -> None:
    doc = sim_station(tmp_path, 1883)
    cam = doc["cameras"][0]
    second = {**cam, "id": "cam-2", "zones": [{"id": "weir", "polygon": [[0, 0], [1, 0], [1, 1]], "armed": {"hours": ["08:00-08:00"]}}]}
    cam["zones"] = []
    doc["cameras"].append(second)
    doc["loudspeaker"]["actions"].append(SAY_PERSON)
    code, rows, _ = config_rows(tmp_path, doc)
    assert code == 1
    bad = failing(rows)
    assert "no danger zone" in bad["cam-1"]["summary"] and "stationctl zone cam-1 --config" in bad["cam-1"]["hint"]
    assert "never armed" in bad["cam-2/weir"]["summary"] and "armed.hours" in bad["cam-2/weir"]["hint"]
    assert "no danger zone is ever armed" in bad["loudspeaker.actions[1] person_in_water_zone"]["summary"]


def test_a_missing_model_file(tmp_path: Path) -> None:
    doc = sim_station(tmp_path, 1883)
    doc["cameras"][0]["detection"]["model"] = {"path": str(tmp_path / "gone.tflite")}
    code, rows, _ = config_rows(tmp_path, doc)
    assert code == 1 and "is not there" in failing(rows)["cam-1"]["summary"]


def test_water_thresholds_out_of_reach_and_flash_flood_without_a_rate(tmp_path: Path) -> None:
    doc = sim_station(tmp_path, 1883)
    doc["water_sensors"][0]["driver"] = {"type": "ultrasonic", "port": "/dev/ttyUSB0", "mount_height_m": 3.0}
    doc["water_sensors"][0]["rules"] = {"warning_m": 3.5, "danger_m": 4.0}
    doc["loudspeaker"]["actions"].append({"alarm": "flash_flood", "text": "山洪预警", "priority": "emergency"})
    code, rows, _ = config_rows(tmp_path, doc)
    assert code == 1
    bad = failing(rows)
    assert "above the highest level the gauge can measure" in bad["gauge-1"]["summary"] and "calibrate" in bad["gauge-1"]["hint"]
    assert "can never be raised" in bad["loudspeaker.actions[0] water_level"]["summary"]
    assert "rise_rate_m_per_min" in bad["loudspeaker.actions[1] flash_flood"]["hint"]


def test_actions_and_relays_that_refer_to_nothing(tmp_path: Path) -> None:
    doc = sim_station(tmp_path, 1883)
    doc["fire_inputs"] = [{"id": "flame-1", "kind": "fire", "driver": {"type": "gpio", "pin": 17}}]
    doc["loudspeaker"] = {
        "driver": {"type": "alsa", "device": "null", "cache_dir": str(tmp_path / "tts"), "clip_dir": str(tmp_path / "clips"),
                   "amplifier": {"pin": 17}},
        "actions": [{"alarm": "persn_in_water", "text": "typo"}, {"alarm": "smoke", "text": "烟雾"},
                    {"alarm": "fire", "clip": "siren.wav"}],
    }
    code, rows, _ = config_rows(tmp_path, doc)
    assert code == 1
    bad = failing(rows)
    assert "does not exist" in bad["loudspeaker.actions[0] persn_in_water"]["summary"]
    assert "person_in_water_zone" in bad["loudspeaker.actions[0] persn_in_water"]["hint"]
    assert "no smoke input" in bad["loudspeaker.actions[1] smoke"]["summary"]
    assert "siren.wav" in bad["loudspeaker.actions[2] fire"]["summary"]
    assert "fire input flame-1" in bad["loudspeaker.driver.amplifier"]["summary"]


def test_the_forest_edge_example_passes_with_its_shipped_fire_smoke_model(tmp_path: Path) -> None:
    """The shipped fire/smoke models (v3 here, v1 and v2 alike) say fire/smoke on or off, not labels:
    the audit must read that and find that the announced fire and smoke alarms can be raised."""
    import yaml

    from tests.vision.conftest import EXAMPLES

    doc = yaml.safe_load((EXAMPLES / "forest-edge.yaml").read_text(encoding="utf-8"))
    for kind in ("fire", "smoke"):
        doc["loudspeaker"].setdefault("actions", []).append({"alarm": kind, "text": "发现火情,请立即远离并报警", "priority": "emergency"})
    fs = doc["cameras"][0]["fire_smoke"]
    fs["classical"] = None  # the model alone must account for both kinds
    fs.pop("classical_smoke_min_model_score")
    code, rows, _ = config_rows(tmp_path, doc)
    assert code == 0 and [r["status"] for r in rows] == ["pass"], rows
    fs["model"]["smoke"] = False
    code, rows, _ = config_rows(tmp_path, doc)
    assert code == 1 and any("smoke" in r["summary"] for r in rows if r["status"] == "fail")
