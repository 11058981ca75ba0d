"""The station file: good files load, bad ones are refused with the field path and YAML line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.errors import ConfigError
from gateway.config.station import config_schema, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
station:
  county: "410421"
  town: xiaoqi
  village: zhuwa
  id: pond-01
water_sensors:
  - id: gauge-1
    rules:
      warning_m: 1.0
      danger_m: 2.0
    driver:
      type: simulated
      scenario:
        - {at_s: 0, level_m: 0.5}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "station.yaml")
    return info.value.problems


def test_good_file_loads_with_defaults() -> None:
    cfg = parse_config(GOOD)
    assert cfg.station.path == "410421/xiaoqi/zhuwa/pond-01"
    assert cfg.broker.port == 1883
    assert cfg.water_sensors[0].driver.type == "simulated"
    assert len(cfg.fingerprint()) == 16


def test_examples_validate() -> None:
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        load_config(example)


def test_unknown_key_is_named_with_its_line() -> None:
    problems = problems_of(GOOD.replace("  id: pond-01\n", "  id: pond-01\n  colour: blue\n"))
    assert problems == ["station.colour (line 6): Extra inputs are not permitted"]


def test_missing_field_inside_driver_names_path_and_parent_line() -> None:
    text = GOOD.replace("      scenario:\n        - {at_s: 0, level_m: 0.5}\n", "")
    problems = problems_of(text)
    assert len(problems) == 1
    assert problems[0].startswith("water_sensors[0].driver.scenario (line 11): Field required")


def test_wrong_driver_type_is_refused_clearly() -> None:
    problems = problems_of(GOOD.replace("type: simulated", "type: laser"))
    assert len(problems) == 1
    assert "water_sensors[0].driver (line 11)" in problems[0]
    assert "'simulated'" in problems[0]


def test_thresholds_in_wrong_order() -> None:
    problems = problems_of(GOOD.replace("danger_m: 2.0", "danger_m: 0.5"))
    assert problems and "danger_m must be above warning_m" in problems[0]
    assert "water_sensors[0].rules (line 8)" in problems[0]


def test_bad_value_type_names_line() -> None:
    problems = problems_of(GOOD.replace("warning_m: 1.0", "warning_m: high"))
    assert problems[0].startswith("water_sensors[0].rules.warning_m (line 9)")


def test_duplicate_device_ids_refused() -> None:
    text = GOOD + """\
fire_inputs:
  - id: gauge-1
    kind: smoke
    driver: {type: simulated}
"""
    assert any("used twice" in p for p in problems_of(text))


def test_yaml_syntax_error_has_line() -> None:
    problems = problems_of(GOOD + "  - : [\n")
    assert problems[0].startswith("station.yaml (line")
    assert "not valid YAML" in problems[0]


def test_non_mapping_document() -> None:
    assert "must be a YAML mapping" in problems_of("- a\n- b\n")[0]


def test_every_schema_property_has_a_description() -> None:
    schema = config_schema()
    missing = []

    def walk(node: dict, where: str) -> None:
        for name, prop in node.get("properties", {}).items():
            if "description" not in prop:
                missing.append(f"{where}.{name}")
        for sub_name, sub in node.get("$defs", {}).items():
            walk(sub, sub_name)

    walk(schema, "StationConfig")
    assert missing == []


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LANG"}  # the technician's default, Chinese, whatever this machine's LANG
    return subprocess.run([sys.executable, "-m", "provisioning.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)


def test_stationctl_validate_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    ok = run_cli("validate", str(good))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK ") and "站点 410421/xiaoqi/zhuwa/pond-01，水位传感器 1 个" in ok.stdout
    english = run_cli("validate", "--lang", "en", str(good))
    assert english.stdout.startswith("OK ") and "station 410421/xiaoqi/zhuwa/pond-01, 1 water sensor(s)" in english.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("warning_m: 1.0", "warning_m: high"), encoding="utf-8")
    refused = run_cli("validate", str(bad))
    assert refused.returncode == 2
    assert "water_sensors[0].rules.warning_m (line 9)" in refused.stderr and "下一步：按上面指出的字段改正" in refused.stderr
    missing = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "cannot read the station file" in missing.stderr


def test_stationctl_schema_is_json_schema() -> None:
    out = run_cli("schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert schema["title"] == "StationConfig"
    assert "station" in schema["required"]
