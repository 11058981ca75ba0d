"""The county's words for alarms, in Chinese first and in English: kinds, severities, states, summaries from the fields."""

from __future__ import annotations

import re
from datetime import UTC
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

from county.directory import parse_directory
from county.wording import ALARM_STATES, KINDS, SEVERITIES, Say, alarm_words, duration, summary_text
from gateway.config.station import FireInputConfig
from tests.conftest import ROOT

CJK = re.compile(r"[\u4e00-\u9fff]")
PATTERNS = [re.compile(p) for p in (r'AlarmSignal\(\s*"([a-z_]+)"', r'^\s*(?:[A-Z_]*_)?KIND\s*=\s*"([a-z_]+)"', r'notice\(\s*"([a-z_]+)"',
                                    r'_kind_step\(settings, "([a-z_]+)"')]


def gateway_kinds() -> set[str]:
    """Every alarm and notice kind named in the gateway's code (a new one without Chinese words fails the test below)."""
    found = {str(k) for k in get_args(FireInputConfig.model_fields["kind"].annotation)}  # GPIO fire/smoke inputs: kind from the file
    for path in (ROOT / "gateway").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in PATTERNS:
            found.update(pattern.findall(text) if not pattern.pattern.startswith("^") else re.findall(pattern.pattern, text, re.M))
    return found


def test_every_kind_the_gateway_raises_has_chinese_and_english_words() -> None:
    kinds = gateway_kinds()
    assert {"person_in_water_zone", "possible_submersion", "water_level", "flash_flood", "fire", "smoke", "sensor_stale",
            "camera_stale", "disk_full", "device_offline", "outbox_full", "command_rejected"} <= kinds  # the reading works
    missing = sorted(k for k in kinds if k not in KINDS)
    assert not missing, f"kinds without words in county/wording.py KINDS: {missing}"
    for kind in kinds:
        zh, en = KINDS[kind]
        assert CJK.search(zh) and en and not CJK.search(en), kind
        for state in ("raised", "cleared"):  # no field at all: still a sentence, never an exception
            assert summary_text(kind, state, "dev-1", {}, "station line", "zh")
            assert summary_text(kind, state, "dev-1", {}, "station line", "en")


def test_severities_and_states_read_as_the_case_pages_say_them() -> None:
    assert [SEVERITIES[s][0] for s in ("info", "warning", "danger", "critical")] == ["提示", "警告", "危险", "紧急"]
    assert ALARM_STATES["acked"] == ("已确认", "acked")
    words = alarm_words({"alarm": "water_level", "state": "acked", "severity": "danger", "source": "g1", "summary": "x", "details": {}}, "zh")
    assert (words["kind_label"], words["severity_label"], words["state_label"]) == ("水位", "危险", "已确认")
    words = alarm_words({"alarm": "water_level", "state": "acked", "severity": "danger", "source": "g1", "summary": "x", "details": {}}, "en")
    assert (words["kind_label"], words["severity_label"], words["state_label"]) == ("water level", "danger", "acked")


def test_people_in_the_water_zone_are_counted_with_the_longest_stay() -> None:
    details = {"count": 4, "track_ids": [1, 2, 3, 4], "dwell_s": 95.0, "max_dwell_s": 130.0}
    station = "4 person(s) in 东塘水面, one for 95 s"
    assert summary_text("person_in_water_zone", "updated", "cam-1/pond", details, station, "zh") == "东塘水面有 4 人，最长停留 2 分 10 秒"
    assert summary_text("person_in_water_zone", "updated", "cam-1/pond", details, station, "en") == "4 people in 东塘水面, longest stay 2 min 10 s"
    named = {**details, "zone": "西湾"}  # a zone name among the fields wins over the station's sentence
    assert summary_text("person_in_water_zone", "raised", "cam-1/pond", named, station, "zh").startswith("西湾有 4 人")
    cleared = summary_text("person_in_water_zone", "cleared", "cam-1/pond", {"count": 0, "max_dwell_s": 30}, "zone empty for 10 s", "zh")
    assert cleared == "cam-1/pond 已无人，最长停留 30 秒"


def test_possible_submersion_says_how_many_vanished_and_when_last_seen() -> None:
    station = "1 person(s) vanished in 东塘水面 and not seen leaving (possible submersion)"
    details = {"lost": 1, "last_seen_s_ago": 12.4, "count": 0}
    assert summary_text("possible_submersion", "raised", "cam-1/pond", details, station, "zh") == "东塘水面有 1 人消失且未见离开，疑似溺水，最后一次看到在 12 秒前"
    assert "1 person vanished in 东塘水面" in summary_text("possible_submersion", "raised", "cam-1/pond", details, station, "en")


def test_water_level_and_flash_flood_give_the_level_and_the_mark() -> None:
    details = {"level_m": 2.5, "warning_m": 1.5, "danger_m": 2.0}
    assert summary_text("water_level", "raised", "gauge-1", details, "", "zh") == "gauge-1 水位 2.50 米，超过危险水位 2.00 米"
    assert summary_text("water_level", "raised", "gauge-1", {**details, "level_m": 1.7}, "", "en") == \
        "gauge-1: water level 1.70 m, above the warning mark 1.50 m"
    assert summary_text("water_level", "cleared", "gauge-1", {**details, "level_m": 0.8}, "", "zh") == "gauge-1 水位回落至 0.80 米，恢复正常"
    flood = {"rise_m_per_min": 0.0523, "threshold_m_per_min": 0.05, "level_m": 1.0}
    assert summary_text("flash_flood", "raised", "gauge-1", flood, "", "zh") == "gauge-1 水位快速上涨：每分钟 0.052 米（阈值 0.05 米/分钟）"


def test_silent_devices_and_fire_inputs_say_what_is_quiet() -> None:
    stale = {"silent_s": 5.0, "last_error": ""}
    assert summary_text("sensor_stale", "raised", "smoke-1", stale, "no reading from smoke-1 for 5 s", "zh") == "传感器 smoke-1 已 5 秒无数据"
    assert summary_text("sensor_stale", "raised", "smoke-1", stale, "", "en") == "sensor smoke-1: no reading for 5 s"
    assert summary_text("camera_stale", "raised", "cam-1", {"silent_s": 75}, "", "zh") == "摄像头 cam-1 已 1 分 15 秒无画面"
    # a smoke input that stopped alarming: the station says "smoke-1 quiet for 5 s"
    assert summary_text("smoke", "cleared", "smoke-1", {"input": "smoke-1"}, "smoke-1 quiet for 5 s", "zh") == "烟感 smoke-1 已 5 秒未再报烟雾，告警解除"
    assert summary_text("smoke", "raised", "smoke-1", {"input": "smoke-1", "active_for_s": 2.0}, "", "zh") == "烟感 smoke-1 发现烟雾"
    camera = {"area": 0.032, "peak_area": 0.04, "evidence": "model", "confirmed_by": ["smoke-1"]}
    assert summary_text("fire", "updated", "cam-1", camera, "", "zh") == "摄像头 cam-1 发现火情（画面占比 3.2%），已由 smoke-1 确认"


def test_an_unknown_kind_or_odd_fields_keep_the_station_summary() -> None:
    assert summary_text("laser_tripwire", "raised", "x", {"a": 1}, "tripwire crossed", "zh") == "tripwire crossed"
    assert summary_text("water_level", "raised", "g", {"level_m": "high", "danger_m": None}, "level high", "zh") == "level high"
    assert summary_text("person_in_water_zone", "raised", "c/z", {"count": float("nan")}, "2 person(s) in c/z", "zh") == "2 person(s) in c/z"
    assert summary_text("water_level", "raised", "g", {"level_m": 2.1}, "", "zh") == "g 水位 2.10 米，超过警戒水位 ? 米"  # a mark not sent
    assert summary_text("disk_low", "raised", "outbox", {}, "", "en") == "disk space low"  # nothing at all: the kind's words
    assert "<" in summary_text("sensor_stale", "raised", "<b>x</b>", {}, "", "zh")  # text, never HTML: the page escapes it


@pytest.mark.parametrize(("seconds", "zh", "en"), [(0, "0 秒", "0 s"), (59.6, "1 分", "1 min"), (130, "2 分 10 秒", "2 min 10 s"),
                                                  (3725, "1 小时 2 分", "1 h 2 min")])
def test_durations_read_as_people_say_them(seconds: float, zh: str, en: str) -> None:
    assert (duration(seconds, "zh"), duration(seconds, "en")) == (zh, en)


def test_say_writes_times_in_the_county_zone_with_the_date_and_places_by_name() -> None:
    names = parse_directory("410421/xiaoqi,小旗乡,Xiaoqi\n410421/xiaoqi/zhuwa,竹洼村,Zhuwa\n")
    say = Say("zh", ZoneInfo("Asia/Shanghai"), names, lambda path: {"name": "竹洼塘"} if path.endswith("pond-01") else None)
    assert say.at(1_767_225_600) == "2026-01-01 08:00:00"  # 00:00 UTC
    assert Say("en", UTC).at(1_767_225_600) == "2026-01-01 00:00:00"
    assert say.place("410421/xiaoqi/zhuwa/pond-01") == "小旗乡 竹洼村 竹洼塘"
    assert say.place("410421/xiaoqi") == "小旗乡"
    assert say.labels("410421/xiaoqi/zhuwa/pond-01") == {"county": "410421", "town": "小旗乡", "village": "竹洼村", "station": "竹洼塘"}
    assert (say.kind("possible_submersion"), say.severity("critical"), say.action("escalate")) == ("疑似溺水", "紧急", "督办升级")
    en = Say("en", UTC, names)
    assert (en.kind("possible_submersion"), en.place("410421/xiaoqi/zhuwa/pond-01")) == ("possible submersion", "Xiaoqi Zhuwa pond-01")
