"""What the loop writes for people is Chinese first: the case's summary from the alarm's facts, the place's name from
the county directory, the due time in the county's zone with its date (the notification the SMS gateway forwards)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from county.store import Incoming, Store
from tests.county.loop.conftest import WebhookReceiver, make_cases, write_config
from wire.messages import Alarm, envelope_fields, to_payload

STATION = "410421/xiaoqi/zhuwa/test-01"
AT = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def store_zone_alarm(url: str) -> None:
    alarm = Alarm(**envelope_fields(STATION, 1, AT, True, "boot-1", "ev-zone"), alarm="person_in_water_zone", state="raised",
                  severity="danger", category="safety", source="cam-1/pond", summary="4 person(s) in 东塘水面, one for 95 s",
                  details={"count": 4, "track_ids": [1, 2, 3, 4], "dwell_s": 95.0, "max_dwell_s": 130.0},
                  raised_at=datetime.fromtimestamp(AT, UTC))
    store = Store(url)
    try:
        store.write([Incoming(f"vs/v1/{STATION}/event/person_in_water_zone", alarm, to_payload(alarm).decode(), AT)])
    finally:
        store.close()


def test_chinese_case_summary_place_name_and_due_time_in_the_notification(tmp_path: Path, webhook: WebhookReceiver) -> None:
    (tmp_path / "names.csv").write_text("410421/xiaoqi,小旗乡\n410421/xiaoqi/zhuwa,竹洼村\n410421/xiaoqi/zhuwa/test-01,竹洼塘\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'county.db'}"
    cases = make_cases(url, write_config(tmp_path, webhook, tz="Asia/Shanghai", directory="names.csv",
                                         deadlines=[{"severity": "*", "accept_min": 15, "handle_min": 120}]))
    store_zone_alarm(url)
    try:
        [case] = cases.sweep(AT + 1)
        assert case.summary == "东塘水面有 4 人，最长停留 2 分 10 秒"
        [(payload,)] = cases.db.query("SELECT payload FROM notifications WHERE channel = 'webhook'")
        doc = payload if isinstance(payload, dict) else json.loads(payload)
        assert "小旗乡 竹洼村 竹洼塘 有人进入危险水域危险" in doc["text"] and doc["case"]["station_name"] == "小旗乡 竹洼村 竹洼塘"
        assert "东塘水面有 4 人" in doc["text"] and "请于 2026-01-01 08:15 前签收" in doc["text"]  # 00:15 UTC, in the county's zone
    finally:
        cases.db.close()
