"""`stationctl check` speaks Chinese to the technician unless `--lang en` (or an English LANG) asks
otherwise; `--json` carries every row's texts in both languages, English under the old keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioning.results import CheckResult
from tests.provisioning.conftest import sim_station, stationctl
from tests.stations import write_station

DEVICES = ("--only", "water", "--only", "fire", "--only", "speaker", "--only", "broker", "--samples", 3)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LANG (the default is Chinese) and a wide table, so a row's text stays on one line."""
    monkeypatch.delenv("LANG", raising=False)
    monkeypatch.setenv("COLUMNS", "300")


def test_the_table_is_chinese_by_default(station_file: Path) -> None:
    result = stationctl("check", "--config", station_file, *DEVICES)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "自检" in out and "检查项" in out and "结果" in out and "详情" in out
    assert "通过" in out and "全部检查通过" in out and "（通过 4 项，警告 0 项，失败 0 项，跳过 0 项）" in out
    assert "3 个读数：0.420, 0.420, 0.420 m；中位数 0.420 m" in out  # the simulated gauge, its numbers and units kept
    assert "烟雾输入：正常 正常 正常" in out and "已播放测试语音" in out and "已连接，用时" in out
    assert "水位" in out and "火情/烟雾" in out and "广播喇叭" in out and "MQTT 服务器" in out
    assert "loudspeaker" not in out  # the speaker's row names it in Chinese too
    for english in ("PASS", "all checks passed", "reading(s)", "smoke input", "connected in", "self-test of"):
        assert english not in out, english


def test_lang_en_and_an_english_lang_give_english(station_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = stationctl("check", "--config", station_file, *DEVICES, "--lang", "en")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "self-test of" in out and "PASS" in out and "all checks passed (4 pass, 0 warn, 0 fail, 0 skipped)" in out
    assert "3 reading(s): 0.420, 0.420, 0.420 m; median 0.420 m" in out and "smoke input: idle idle idle" in out
    assert "通过" not in out and "读数" not in out
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert "PASS" in stationctl("check", "--config", station_file, "--only", "water").output


def test_failures_and_next_steps_in_chinese_and_json_in_both(tmp_path: Path, broker) -> None:
    doc = sim_station(tmp_path, broker.port)
    doc["water_sensors"][0]["driver"] = {"type": "ultrasonic", "port": str(tmp_path / "ttyUSB9"), "mount_height_m": 3.0, "timeout_s": 0.2}
    config = write_station(tmp_path / "station.yaml", doc)
    broker.stop()
    only = ("--only", "serial", "--only", "water", "--only", "broker", "--samples", 2, "--no-sound")

    table = stationctl("check", "--config", config, *only)
    assert table.exit_code == 1
    out = table.output
    assert "失败" in out and "3 项检查失败" in out and "FAIL" not in out
    # the table wraps long cells at spaces: whole sentences are checked in the JSON below
    assert "gauge-1：串口" in out and "不存在（现有串口：" in out and "次都没有读数：gauge-1:" in out and "连不上：" in out
    assert "下一步：" in out and "确认 MQTT 服务器在运行" in out and "修好失败的项，然后再检查一次" in out
    assert "cannot open serial port" in out  # what the driver said is quoted as it came

    result = stationctl("check", "--config", config, *only, "--json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)["results"]
    assert all({"summary", "summary_zh", "hint", "hint_zh"} <= row.keys() for row in rows)
    link = next(r for r in rows if r["check"] == "broker")
    assert list(link)[:7] == ["check", "target", "status", "summary", "summary_zh", "hint", "hint_zh"]
    assert "cannot connect" in link["summary"] and "refused" in link["summary"] and "broker.host" in link["hint"]
    assert link["summary_zh"].startswith("连不上") and "MQTT 服务器" in link["hint_zh"]
    water = next(r for r in rows if r["check"] == "water")
    assert water["summary"].startswith("no reading in 2 attempt(s)") and water["summary_zh"].startswith("试了 2 次都没有读数：gauge-1: ")
    port = next(r for r in rows if r["check"] == "serial" and r["target"] == str(tmp_path / "ttyUSB9"))
    assert port["summary_zh"].startswith(f"gauge-1：串口 {tmp_path / 'ttyUSB9'} 不存在（现有串口：") and port["summary_zh"].endswith("）")


def test_an_unknown_check_is_refused_in_the_chosen_language(station_file: Path) -> None:
    zh = stationctl("check", "--config", station_file, "--only", "sonar")
    assert zh.exit_code == 2 and "没有这项检查：sonar" in zh.output and "从这些里选：config, serial" in zh.output
    en = stationctl("check", "--config", station_file, "--only", "sonar", "--lang", "en")
    assert en.exit_code == 2 and "unknown check(s) sonar" in en.output


def test_a_row_without_chinese_shows_its_english() -> None:
    """The file audit's rows (provisioning.audit) are written in English only: both languages show that."""
    plain = CheckResult("config", "station file", "pass", "every announced alarm can be raised", hint="none")
    assert plain.text("zh") == plain.text("en") == "every announced alarm can be raised" and plain.next_step("zh") == "none"
    both = CheckResult.of("water", "g", "warn", ("低于零点", "below the datum"), hint=("校准", "calibrate"))
    assert (both.text("zh"), both.next_step("zh"), both.text("en"), both.next_step("en")) == ("低于零点", "校准", "below the datum", "calibrate")
    assert both.to_dict()["summary"] == "below the datum" and both.to_dict()["summary_zh"] == "低于零点"


def test_a_broken_station_file_is_told_in_the_technicians_language(tmp_path: Path) -> None:
    """The error frame and its generic next step follow --lang, as the command's own texts do."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("station: {county: '1', town: t, village: v, id: s}\ncameras: [{id: c, driver: {type: file}}]\n", encoding="utf-8")
    zh = stationctl("check", "--config", bad)
    assert zh.exit_code == 2 and "错误：" in zh.output and f"下一步：按上面指出的字段改正，然后再检查：stationctl validate {bad}" in zh.output
    en = stationctl("check", "--config", bad, "--lang", "en")
    assert en.exit_code == 2 and "error:" in en.output and f"next: fix the field(s) named above, then check again with: stationctl validate {bad}" in en.output
    assert "错误" not in en.output
