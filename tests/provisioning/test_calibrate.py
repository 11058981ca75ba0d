"""`stationctl calibrate water`: the datum from a staff-gauge reading, written with comments kept;
in Chinese unless `--lang en`."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.water_level.frames import binary_frame
from gateway.config.station import load_config
from tests.drivers.conftest import StreamingSensor, sim_device
from tests.provisioning.conftest import stationctl

HEADER = """\
# Zhuwa low bridge. Keep this comment: calibration must not eat it.
station:
  county: "410421"   # county code
  town: xiaoqi
  village: zhuwa
  id: bridge-01

outbox:
  path: {tmp}/outbox.db

water_sensors:
  # A02YYUW ultrasonic on the bridge railing
  - id: bridge-gauge
    driver:
      type: {driver}
      port: {port}
{driver_extra}
    rules:
      warning_m: 1.8   # the footpath floods here
      danger_m: 2.4
"""


def ultrasonic_file(tmp: Path, port: Path, name: str = "station.yaml") -> Path:
    path = tmp / name
    path.write_text(HEADER.format(tmp=tmp, driver="ultrasonic", port=port, driver_extra="      mount_height_m: 3.20"), encoding="utf-8")
    return path


def test_ultrasonic_mount_height_follows_the_staff_gauge(tmp_path: Path, socat) -> None:
    line = socat()
    stream = StreamingSensor(line.b, binary_frame(1800))  # level now 3.20 - 1.80 = 1.40 m
    config = ultrasonic_file(tmp_path, line.a)
    before = config.read_text(encoding="utf-8")
    try:
        result = stationctl("calibrate", "water", "bridge-gauge", "--staff-gauge", "1.52", "--config", config, "--samples", 3, "--lang", "en")
    finally:
        stream.stop()
    assert result.exit_code == 0, result.output
    assert "now reads 1.520 m" in result.output
    assert load_config(config).water_sensors[0].driver.mount_height_m == 3.32
    after = config.read_text(encoding="utf-8")
    # only the calibrated value changed: comments, quotes and layout are kept
    assert after == before.replace("mount_height_m: 3.20", "mount_height_m: 3.32")


def test_modbus_level_transmitter_gets_an_offset(tmp_path: Path, socat, modbus_server) -> None:
    line = socat()
    modbus_server(line.b, [sim_device(1, holding=[1500], inputs=[0])])  # 1.500 m
    config = tmp_path / "station.yaml"
    config.write_text(HEADER.format(tmp=tmp_path, driver="modbus", port=line.a,
                                    driver_extra="      slave_id: 1\n      address: 0\n      timeout_s: 0.5"), encoding="utf-8")
    result = stationctl("calibrate", "water", "bridge-gauge", "--staff-gauge", "1.38", "--config", config, "--samples", 3)
    assert result.exit_code == 0, result.output
    driver = load_config(config).water_sensors[0].driver
    assert driver.offset == -0.12
    assert "# the footpath floods here" in config.read_text(encoding="utf-8")


def test_dry_run_and_big_corrections_change_nothing(tmp_path: Path, socat, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    line = socat()
    stream = StreamingSensor(line.b, binary_frame(1800))
    config = ultrasonic_file(tmp_path, line.a)
    before = config.read_text(encoding="utf-8")
    try:
        dry = stationctl("calibrate", "water", "bridge-gauge", "--staff-gauge", "1.45", "--config", config, "--samples", 3, "--dry-run", "--lang", "en")
        dry_zh = stationctl("calibrate", "water", "bridge-gauge", "--staff-gauge", "1.45", "--config", config, "--samples", 3, "--dry-run")
        big = stationctl("calibrate", "water", "bridge-gauge", "--staff-gauge", "2.9", "--config", config, "--samples", 3)
    finally:
        stream.stop()
    assert dry.exit_code == 0 and "3.2 -> 3.25" in dry.output and "nothing written" in dry.output and "median" in dry.output
    assert dry_zh.exit_code == 0 and "3.2 -> 3.25" in dry_zh.output and "没有写入任何内容" in dry_zh.output
    assert "中位数" in dry_zh.output and "水尺读数" in dry_zh.output and "median" not in dry_zh.output
    assert big.exit_code == 2 and "--yes" in big.output and "修正量为 +1.500 m" in big.output
    assert config.read_text(encoding="utf-8") == before


def test_refusals_say_what_to_do(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(HEADER.format(tmp=tmp_path, driver="simulated", port="x", driver_extra="").replace(
        "      port: x\n", "      scenario: [{at_s: 0, level_m: 0.5}]\n"), encoding="utf-8")
    before = config.read_text(encoding="utf-8")
    simulated = stationctl("calibrate", "water", "bridge-gauge", "--staff-gauge", "0.7", "--config", config, "--lang", "en")
    assert simulated.exit_code == 2
    assert "no datum" in simulated.output and "scenario" in simulated.output
    unknown = stationctl("calibrate", "water", "ford-gauge", "--staff-gauge", "0.7", "--config", config)
    assert unknown.exit_code == 2 and "bridge-gauge" in unknown.output
    dead = ultrasonic_file(tmp_path, tmp_path / "ttyUSB7", "dead.yaml")
    gone = stationctl("calibrate", "water", "bridge-gauge", "--staff-gauge", "1.0", "--config", dead, "--samples", 3)
    assert gone.exit_code == 1 and "stationctl check" in gone.output
    assert config.read_text(encoding="utf-8") == before
