"""`stationctl init --interactive` as a technician meets it: answers checked as typed, real drivers by default,
a model, a zone and TLS asked for, site templates with the right words, a draft kept when it cannot finish."""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway.config.station import load_config
from tests.provisioning.conftest import SSD, stationctl

RIVER_TEXT = "漫水桥"


def lines(*answers: str) -> str:
    return "\n".join(answers) + "\n"


def pond_answers(tmp_path: Path) -> str:
    return lines(
        "410421", "小溪乡", "xiaoqi", "zhuwa", "pond 01", "pond-01", "竹洼池塘",  # two bad codes, each asked again
        "mqtt.county.example:8883",
        "", "",  # TLS: yes by default on 8883, the CA file at its usual place
        "pond-01", "",  # MQTT login, password file at its usual place
        "", "", "",  # add a camera (yes: the pond's first device), id cam-1, driver rtsp (the default)
        "192.168.1.64/Streaming/Channels/102", "rtsp://admin:pw@192.168.1.64:554/Streaming/Channels/102",  # not a URL, asked again
        str(SSD / "missing.tflite"), str(SSD / "detect.tflite"), str(SSD / "labelmap.txt"),  # model: a missing file is asked again
        "0.1,0.5 0.9,0.5", "0.1,0.5 0.9,0.5 0.9,0.95 0.1,0.95",  # a zone needs three corners
        "n",  # no second camera
        "y", "", "",  # a water-level sensor, gauge-1, ultrasonic (the default)
        "/dev/ttyUSB0", "", "3.2",  # port, frame format binary, mount height
        "5", "1.8",  # warning above what the gauge can measure (3.17 m): asked again
        "1.5", "2.4",  # danger below warning: asked again
        "",  # no flash-flood rate at a pond
        "n",
        "",  # no fire input (not a pond's)
        "", "", "",  # loudspeaker: yes, alsa (the default), device default
    )


def test_pond_interview_checks_each_answer_and_writes_a_station_that_checks(tmp_path: Path) -> None:
    out = tmp_path / "station.yaml"
    result = stationctl("init", "--out", out, "--interactive", "--site", "pond", "--lang", "en", input=pond_answers(tmp_path))
    assert result.exit_code == 0, result.output
    # the rule said in words, then asked again
    assert "letters, digits, - and _ only" in result.output and "no Chinese characters" in result.output
    assert "must be below 3.17" in result.output and "must be above 1.8" in result.output
    assert "does not exist" in result.output and "at least 3 corners" in result.output
    cfg = load_config(out)
    assert cfg.station.path == "410421/xiaoqi/zhuwa/pond-01" and cfg.station.name == "竹洼池塘"
    assert (cfg.broker.port, str(cfg.broker.tls.ca_file), cfg.broker.username) == (8883, "/etc/station-gateway/ca.pem", "pond-01")
    (cam,) = cfg.cameras
    assert cam.driver.type == "rtsp" and cam.detection is not None and cam.zones[0].polygon[2] == (0.9, 0.95)
    (gauge,) = cfg.water_sensors
    assert gauge.driver.type == "ultrasonic" and (gauge.rules.warning_m, gauge.rules.danger_m) == (1.8, 2.4)
    assert cfg.loudspeaker is not None and cfg.loudspeaker.driver.type == "alsa"
    words = {a.alarm: a.text for a in cfg.loudspeaker.actions}
    assert words["person_in_water_zone"] == "水深危险，请马上离开水边"
    assert "河" not in out.read_text(encoding="utf-8") and RIVER_TEXT not in out.read_text(encoding="utf-8")
    # what was commissioned can be raised: the config step of check passes
    checked = stationctl("check", "--config", out, "--only", "config")
    assert checked.exit_code == 0, checked.output


def test_river_and_forest_templates_give_their_own_words(tmp_path: Path) -> None:
    river = tmp_path / "river.yaml"
    result = stationctl("init", "--out", river, "--site", "river", "--county", "410421", "--town", "xiaoqi", "--village", "zhuwa",
                        "--id", "ford-01", "--water", "id=ford-gauge,type=ultrasonic,port=/dev/ttyUSB0,mount_height_m=4,warning_m=1.5,"
                        "danger_m=2.2,rise_rate_m_per_min=0.1", "--speaker", f"type=simulated,record_dir={tmp_path / 'pa'}")
    assert result.exit_code == 0, result.output
    words = {a.alarm: a.text for a in load_config(river).loudspeaker.actions}
    assert RIVER_TEXT in words["water_level"] and "山洪" in words["flash_flood"]

    forest = tmp_path / "forest.yaml"
    answers = lines("", "410421", "xiaoqi", "zhuwa", "forest-01", "", "", "n", "",  # site from the flag; identity; no TLS or login
                    "", "", "smoke", "", "17", "", "",  # fire input first (yes), smoke-1, smoke, gpio by default, pin 17
                    "n",
                    "", "", "file", str(SSD.parent.parent / "media" / "fire" / "fire-basket.jpg"), "",  # a camera watching for fire
                    "n",
                    "n",  # no water sensor at a forest edge
                    "", "simulated", str(tmp_path / "pa"))
    done = stationctl("init", "--out", forest, "--site", "forest", "--interactive", "--lang", "en", input=answers)
    assert done.exit_code == 0, done.output
    cfg = load_config(forest)
    assert cfg.cameras[0].fire_smoke is not None and cfg.fire_inputs[0].driver.type == "gpio"
    words = {a.alarm: a.text for a in cfg.loudspeaker.actions}
    assert set(words) == {"fire", "smoke"} and "119" in words["fire"] and "林区" in words["smoke"]
    assert stationctl("check", "--config", forest, "--only", "config").exit_code == 0


def test_an_interrupted_interview_keeps_a_draft_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "station.yaml"
    result = stationctl("init", "--out", out, "--interactive", "--lang", "en", input=lines("pond", "410421", "xiaoqi"))
    assert result.exit_code == 2
    draft = tmp_path / "station.draft.yaml"
    assert not out.exists() and draft.exists()
    assert str(draft) in result.output and "stationctl validate" in result.output
    kept = yaml.safe_load(draft.read_text(encoding="utf-8"))
    assert kept["station"] == {"county": "410421", "town": "xiaoqi"}  # nothing typed is lost


def test_a_file_that_does_not_validate_is_kept_as_a_draft(tmp_path: Path) -> None:
    out = tmp_path / "station.yaml"
    result = stationctl("init", "--out", out, "--county", "410421", "--town", "xiaoqi", "--village", "zhuwa", "--id", "s-1",
                        "--camera", "id=cam-1,type=rtsp,url=http://192.168.1.64/stream", "--lang", "zh")
    assert result.exit_code == 2
    draft = tmp_path / "station.draft.yaml"
    assert not out.exists() and draft.exists()
    assert "草稿" in result.output and str(draft) in result.output and "url" in result.output
    assert "stationctl validate" in result.output and "cam-1" in draft.read_text(encoding="utf-8")
