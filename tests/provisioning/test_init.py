"""`stationctl init`: from flags and interactively; what it writes passes `stationctl validate`."""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway.config.station import load_config
from tests.provisioning.conftest import VIDEO, stationctl


def test_init_from_flags_writes_a_station_file_that_validates(tmp_path: Path) -> None:
    out = tmp_path / "etc" / "station.yaml"
    result = stationctl(
        "init", "--out", out, "--county", "410421", "--town", "xiaoqi", "--village", "zhuwa", "--id", "bridge-01",
        "--name", "竹洼村漫水桥", "--broker", "mqtt.county.example:8883", "--tls-ca", "/etc/station-gateway/ca.pem",
        "--username", "bridge-01", "--password-file", "/etc/station-gateway/mqtt-password", "--data-dir", str(tmp_path / "data"),
        "--water", "id=bridge-gauge,type=ultrasonic,port=hwgrep://1a86:7523,mount_height_m=3.2,warning_m=1.8,danger_m=2.4,rise_rate_m_per_min=0.1",
        "--water", "id=pond-pressure,type=modbus,port=/dev/ttyUSB1,slave_id=1,address=0,scale=0.001,warning_m=1.2,danger_m=1.6",
        "--water", "id=sim-gauge,level_m=0.4,warning_m=1,danger_m=2",
        "--fire", "id=flame-east,kind=fire,type=gpio,pin=17,pull=up,active=low",
        "--fire", "id=gas-store,type=mcp3008,channel=0,threshold=0.45",
        "--camera", f"id=cam-1,name=pond,type=file,path={VIDEO}",
        "--camera", "id=usb-cam,type=v4l2,device=0",
        "--camera", "id=ip-cam,name='gate, north',type=rtsp,url=rtsp://u:p@192.168.1.64:554/Streaming/Channels/102",
        "--speaker", "type=alsa,device=plughw:CARD=Device,DEV=0,amplifier.pin=27,amplifier.active_high=false",
    )
    assert result.exit_code == 0, result.output
    assert "next: stationctl check" in result.output

    validated = stationctl("validate", out)
    assert validated.exit_code == 0, validated.output
    cfg = load_config(out)
    assert cfg.station.path == "410421/xiaoqi/zhuwa/bridge-01"
    assert (cfg.broker.host, cfg.broker.port, cfg.broker.username) == ("mqtt.county.example", 8883, "bridge-01")
    assert cfg.broker.tls is not None and str(cfg.broker.tls.ca_file) == "/etc/station-gateway/ca.pem"
    gauge, pressure, sim = cfg.water_sensors
    assert gauge.driver.type == "ultrasonic" and gauge.driver.mount_height_m == 3.2 and gauge.rules.rise_rate_m_per_min == 0.1
    assert pressure.driver.type == "modbus" and pressure.driver.slave_id == 1
    assert sim.driver.type == "simulated" and sim.driver.scenario[0].level_m == 0.4
    flame, gas = cfg.fire_inputs
    assert flame.kind == "fire" and flame.driver.pin == 17 and gas.kind == "smoke" and gas.driver.threshold == 0.45
    file_cam, usb_cam, ip_cam = cfg.cameras
    assert file_cam.driver.path == str(VIDEO) and usb_cam.driver.device == 0
    assert ip_cam.name == "gate, north" and ip_cam.driver.url.endswith("/Channels/102")
    speaker = cfg.loudspeaker
    assert speaker is not None and speaker.driver.device == "plughw:CARD=Device,DEV=0"
    assert speaker.driver.amplifier is not None and speaker.driver.amplifier.active_high is False
    # the standard warnings for every alarm this station can raise
    assert {a.alarm for a in speaker.actions} == {"water_level", "flash_flood", "fire", "smoke", "person_in_water_zone"}
    assert str(cfg.outbox.path) == str(tmp_path / "data" / "outbox.db")
    assert out.read_text(encoding="utf-8").startswith("# Station file written by `stationctl init`")


def test_init_interactive_asks_for_everything(tmp_path: Path) -> None:
    out = tmp_path / "station.yaml"
    answers = "\n".join([
        "other",  # no site template
        "410421", "xiaoqi", "zhuwa", "pond-01", "竹洼池塘",  # identity and name
        "127.0.0.1:1884",  # broker
        "n", "",  # no TLS, no MQTT login
        "y", "gauge-1", "modbus", "/dev/ttyUSB0", "3", "0", "input", "float32", "1.0", "distance", "4.0", "1.2", "1.6",
        "0",  # no flash-flood rate
        "n",  # no more water sensors
        "y", "smoke-1", "smoke", "gpio", "GPIO22", "up", "high",  # a normally-closed smoke contact
        "n",
        "y", "cam-1", "file", str(VIDEO), "",  # fps: keep the file's own
        "",  # person detector: install later
        "n",
        "y", "simulated", str(tmp_path / "pa"),  # loudspeaker
    ]) + "\n"
    result = stationctl("init", "--out", out, "--interactive", input=answers)
    assert result.exit_code == 0, result.output
    cfg = load_config(out)
    assert cfg.station.path == "410421/xiaoqi/zhuwa/pond-01" and cfg.station.name == "竹洼池塘"
    assert cfg.broker.port == 1884
    (gauge,) = cfg.water_sensors
    d = gauge.driver
    assert (d.type, d.slave_id, d.address, d.register_type, d.data_type, d.value_is, d.mount_height_m) == (
        "modbus", 3, 0, "input", "float32", "distance", 4.0)
    assert (gauge.rules.warning_m, gauge.rules.danger_m) == (1.2, 1.6)
    (smoke,) = cfg.fire_inputs
    assert (smoke.driver.pin, smoke.driver.pull, smoke.driver.active) == ("GPIO22", "up", "high")
    assert cfg.cameras[0].driver.fps is None
    assert cfg.loudspeaker is not None and cfg.loudspeaker.driver.type == "simulated"
    assert stationctl("validate", out).exit_code == 0


def test_init_refuses_to_overwrite_and_says_what_to_do(tmp_path: Path) -> None:
    out = tmp_path / "station.yaml"
    out.write_text("keep me\n")
    result = stationctl("init", "--out", out, "--county", "1", "--town", "t", "--village", "v", "--id", "s")
    assert result.exit_code == 2
    assert "exists" in result.output and "--force" in result.output
    assert out.read_text() == "keep me\n"
    forced = stationctl("init", "--out", out, "--county", "1", "--town", "t", "--village", "v", "--id", "s", "--force")
    assert forced.exit_code == 0, forced.output
    assert yaml.safe_load(out.read_text())["station"]["id"] == "s"


def test_init_errors_name_the_fix(tmp_path: Path) -> None:
    out = tmp_path / "station.yaml"
    missing = stationctl("init", "--out", out, "--county", "410421")
    assert missing.exit_code == 2
    assert "--town" in missing.output and "--interactive" in missing.output

    bad_spec = stationctl("init", "--out", out, "--county", "1", "--town", "t", "--village", "v", "--id", "s", "--water", "gauge-1")
    assert bad_spec.exit_code == 2 and "key=value" in bad_spec.output

    # a spec the config models refuse: the problem is named with its field, nothing is written
    invalid = stationctl("init", "--out", out, "--county", "1", "--town", "t", "--village", "v", "--id", "s",
                         "--water", "id=g,type=ultrasonic,port=/dev/ttyUSB0,warning_m=1,danger_m=2")
    assert invalid.exit_code == 2
    assert "mount_height_m" in invalid.output and "stationctl validate" in invalid.output
    assert not out.exists()
