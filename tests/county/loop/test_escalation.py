"""督办: a case nobody accepts in time goes up to the township (then the county), notified again and marked overdue;
with time passed in on both databases, and by the running loop with a short deadline."""

from __future__ import annotations

import json
from pathlib import Path

from county.accounts import Operator
from county.cases.config import load_config
from county.cases.loop import CaseLoop
from tests.county.loop.alarms import store_alarm
from tests.county.loop.conftest import WebhookReceiver, make_cases, write_config
from tests.stations import wait_for

STATION = "410421/xiaoqi/zhuwa/test-01"
DUTY = Operator("duty", "410421", "县值班员")
T0 = 1_800_000_000.0


def test_escalation_an_unaccepted_case_goes_to_the_township_then_the_county(db_url: str, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, deadlines=[{"severity": "danger", "accept_min": 10, "handle_min": 60}]))
    cases = make_cases(db_url, config)
    try:
        store_alarm(db_url, STATION, "ev-1", 1, at=T0)
        [case] = cases.sweep(T0)
        assert case.accept_due == T0 + 600
        assert cases.tick(T0 + 599) == []
        [up] = cases.tick(T0 + 600)
        assert (up.level, up.overdue, up.state) == (1, True, "dispatched")
        names = [a.name for a in up.assignees]
        assert names == ["王网格", "朱村长", "李值班"]  # the township of xiaoqi joins; dongtang's duty does not
        assert cases.tick(T0 + 601) == []  # fresh deadline at the new rung
        [top] = cases.tick(T0 + 1200)
        assert top.level == 2 and "陈县长" in [a.name for a in top.assignees]
        assert cases.tick(T0 + 10**5) == []  # at the top and already marked overdue: nothing more to do
        _, steps, _ = cases.show(DUTY, case.id)
        assert [s.action for s in steps] == ["open", "escalate", "escalate"]
        assert "not_accepted" in steps[1].note
        audit = [e.action for e in cases.accounts.audit("410421", 20)]
        assert audit.count("case_escalate") == 2
    finally:
        cases.db.close()


def test_escalation_accepted_but_not_handled_in_time_also_escalates_and_a_late_accept_still_works(db_url: str, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, deadlines=[{"severity": "*", "accept_min": 10, "handle_min": 60}]))
    cases = make_cases(db_url, config)
    try:
        store_alarm(db_url, STATION, "ev-1", 1, at=T0)
        [case] = cases.sweep(T0)
        cases.step(DUTY, case.id, "accept", T0 + 60)
        assert cases.tick(T0 + 3599) == []
        [up] = cases.tick(T0 + 3600)
        assert (up.level, up.state, up.overdue) == (1, "accepted", True)
        assert cases.step(DUTY, case.id, "arrive", T0 + 3700).state == "on_site"
    finally:
        cases.db.close()


def test_escalation_by_the_running_loop_notifies_the_township_again(tmp_path: Path, webhook: WebhookReceiver) -> None:
    url = f"sqlite:///{tmp_path / 'county.db'}"
    config = load_config(write_config(tmp_path, webhook, deadlines=[{"severity": "*", "accept_min": 0.01, "handle_min": 1}]))
    cases = make_cases(url, config)
    store_alarm(url, STATION, "ev-1", 1, at=__import__("time").time())
    loop = CaseLoop(url, config, poll_s=0.1).start()
    try:
        def events() -> list[str]:
            return [json.loads(r.body)["event"] for r in webhook.got()]

        assert wait_for(lambda: "case_escalated" in events(), timeout=20), (events(), loop.stats, loop.sender.stats)
        escalated = [json.loads(r.body) for r in webhook.got() if json.loads(r.body)["event"] == "case_escalated"][0]
        assert escalated["case"]["overdue"] and escalated["case"]["level"] == "township" and escalated["case"]["why"] == "not_accepted"
        assert "李值班" in [r["name"] for r in escalated["recipients"]]
        assert "督办" in escalated["text"]
    finally:
        loop.stop()
        cases.db.close()
