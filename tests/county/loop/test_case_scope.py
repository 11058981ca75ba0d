"""A township's account sees and acts only on its own township's cases: another's is "not found", as if it did not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from county.accounts import Operator
from county.i18n import Refused
from tests.county.loop.alarms import store_alarm
from tests.county.loop.conftest import make_cases

XIAOQI = Operator("xq", "410421/xiaoqi", "小旗值班")
DONGTANG = Operator("dt", "410421/dongtang", "东塘值班")
COUNTY = Operator("duty", "410421", "县值班员")


def test_case_a_township_account_neither_sees_nor_acts_on_another_townships_case(db_url: str, tmp_path: Path) -> None:
    cases = make_cases(db_url)
    try:
        store_alarm(db_url, "410421/xiaoqi/zhuwa/s1", "ev-x", 1)
        store_alarm(db_url, "410421/dongtang/hetou/s2", "ev-d", 1)
        opened = {c.station: c for c in cases.sweep(1_800_000_000.0)}
        mine, theirs = opened["410421/xiaoqi/zhuwa/s1"], opened["410421/dongtang/hetou/s2"]
        assert [c.id for c in cases.list(XIAOQI)] == [mine.id]
        assert [c.id for c in cases.list(DONGTANG)] == [theirs.id]
        assert {c.id for c in cases.list(COUNTY)} == {mine.id, theirs.id}
        for attempt in (lambda: cases.show(XIAOQI, theirs.id), lambda: cases.step(XIAOQI, theirs.id, "accept", 1.0),
                        lambda: cases.merge(XIAOQI, theirs.id, ["ev-d"], 1.0),
                        lambda: cases.open_for_alarm(XIAOQI, "410421/dongtang/hetou/s2", "ev-d", 1.0)):
            with pytest.raises(Refused) as err:
                attempt()
            assert "not in your scope" in err.value.en and "不在您的范围内" in err.value.zh
        with pytest.raises(Refused) as missing:
            cases.show(XIAOQI, 99999)
        assert missing.value.en.replace("99999", "N") == "no case #N (or not in your scope)"  # the same words as for a stranger's case
        assert cases.show(DONGTANG, theirs.id)[0].state == "dispatched"
        assert cases.step(XIAOQI, mine.id, "accept", 1.0).state == "accepted"
        assert [(a.name) for a in theirs.assignees] == []  # hetou has no people: nobody at the village rung
    finally:
        cases.db.close()


def test_case_the_duty_officer_opens_one_for_any_alarm_and_merges_another_alarm_of_the_station(db_url: str) -> None:
    cases = make_cases(db_url)
    station = "410421/xiaoqi/zhuwa/s1"
    try:
        store_alarm(db_url, station, "ev-w", 1, severity="warning")
        store_alarm(db_url, station, "ev-1", 2)
        store_alarm(db_url, station, "ev-2", 3)
        store_alarm(db_url, "410421/xiaoqi/zhuwa/s9", "ev-9", 1, severity="warning")
        auto = cases.sweep(1_800_000_000.0)
        assert len(auto) == 2  # the two dangers; the warning waits for a human
        manual = cases.open_for_alarm(XIAOQI, station, "ev-w", 1_800_000_001.0, "巡查发现水位偏高")
        assert manual.opened_by == "xq" and manual.alarms == ("ev-w",)
        with pytest.raises(Refused, match="already in case"):
            cases.open_for_alarm(COUNTY, station, "ev-w", 1_800_000_002.0)
        merged = cases.merge(COUNTY, manual.id, ["ev-1", "ev-2"], 1_800_000_003.0)
        assert merged.alarms == ("ev-1", "ev-2", "ev-w")
        emptied = [cases.show(COUNTY, c.id)[0] for c in auto]
        assert {(c.state, c.result) for c in emptied} == {("closed", "duplicate")}
        with pytest.raises(Refused):
            cases.merge(COUNTY, manual.id, ["ev-9"], 1_800_000_004.0)  # another station's alarm is not this station's
    finally:
        cases.db.close()
