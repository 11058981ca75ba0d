"""The county's closed loop end to end: a real station's gauge rises to danger, the real ingest stores the alarm,
a case opens and is dispatched to the village's grid worker, the webhook and SMTP receivers get the notice (HMAC
checked), and the case is accepted, reached, handled, verified and closed; SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import time
from pathlib import Path

from county.accounts import Operator
from county.cases.config import load_config
from county.cases.loop import CaseLoop
from county.cases.service import AlarmRef
from county.ingest import Ingest
from county.notify.webhook import DELIVERY, SIGNATURE, TIMESTAMP, verify
from county.people import check_person
from county.store import Store
from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.county.loop.alarms import store_alarm
from tests.county.loop.conftest import SECRET, WebhookReceiver, add_account, make_cases, write_config
from tests.stations import config_of, station_dict, wait_for

STATION = "410421/xiaoqi/zhuwa/test-01"
WANG = Operator("wang", "410421/xiaoqi/zhuwa", "王网格")
DUTY = Operator("duty", "410421", "县值班员")


def test_case_opens_from_a_real_alarm_is_dispatched_notified_and_closed(broker: LocalBroker, db_url: str, tmp_path: Path,
                                                                         webhook: WebhookReceiver, smtp) -> None:
    controller, mail = smtp
    config = load_config(write_config(tmp_path, webhook, controller.port))
    cases = make_cases(db_url, config)
    add_account(cases, "wang", WANG.scope)
    cases.people.upsert(check_person("王网格", "13800000001", "grid_worker", "410421/xiaoqi/zhuwa", "wang", "wang@village.example"), 0)
    store = Store(db_url)
    loop = CaseLoop(db_url, config, poll_s=0.1).start()
    ingest = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-loop", on_stored=loop.offer).start()
    station = Station(config_of(station_dict(tmp_path / "station", broker.port)))
    try:
        assert ingest.connected.wait(10)
        time.sleep(0.3)
        t_start = time.time()
        station.start()
        assert wait_for(lambda: cases.list(DUTY), timeout=30), (loop.stats, ingest.stats)
        opened = time.time()
        [case] = cases.list(DUTY)
        assert (case.station, case.kind, case.severity, case.state, case.opened_by) == (STATION, "water_level", "danger", "dispatched", "system")
        assert [a.name for a in case.assignees] == ["王网格", "朱村长"]  # the village's people, grid worker first; not the township's
        # the webhook: signed, one document with every recipient
        assert wait_for(lambda: webhook.got(), timeout=15)
        hook = webhook.got()[0]
        assert verify(SECRET, hook.headers[TIMESTAMP.lower()], hook.body, hook.headers[SIGNATURE.lower()])
        assert not verify(b"another-secret-0123456789", hook.headers[TIMESTAMP.lower()], hook.body, hook.headers[SIGNATURE.lower()])
        doc = json.loads(hook.body)
        assert doc["event"] == "case_dispatched" and doc["case"]["id"] == case.id and hook.headers[DELIVERY.lower()]
        assert [(r["name"], r["phone"], r["role_zh"]) for r in doc["recipients"]] == [("王网格", "13800000001", "网格员"),
                                                                                     ("朱村长", "13800000002", "村干部")]
        assert "水位危险" in doc["text"] and "签收" in doc["text"]
        # e-mail: to the one of them with an address
        assert wait_for(lambda: mail.messages, timeout=15)
        [message] = mail.messages
        assert message["To"] == "wang@village.example" and f"#{case.id}" in message["Subject"]
        print(f"alarm -> case {opened - t_start:.2f} s after the station started; notified")
        assert [c.id for c in cases.mine(WANG)] == [case.id]  # "my cases" of the grid worker's linked account
        # the steps, each by the one whose part it is
        cases.step(WANG, case.id, "accept", time.time())
        cases.step(WANG, case.id, "arrive", time.time())
        cases.step(WANG, case.id, "handle", time.time(), "水位已回落,已在岸边设置警示带", ["photo-1", "photo-2"])
        cases.step(DUTY, case.id, "verify", time.time())
        closed = cases.step(DUTY, case.id, "close", time.time(), result="resolved")
        assert (closed.state, closed.result, closed.handled_by) == ("closed", "resolved", "wang")
        _, steps, notes = cases.show(DUTY, case.id)
        assert [(s.action, s.actor) for s in steps] == [("open", "system"), ("accept", "wang"), ("arrive", "wang"), ("handle", "wang"),
                                                         ("verify", "duty"), ("close", "duty")]
        assert steps[3].photos == ("photo-1", "photo-2")
        assert {(n[1], n[3]) for n in notes} == {("webhook", "sent"), ("email", "sent")}
        audit = [(e.operator, e.action, e.target) for e in reversed(cases.accounts.audit("410421/xiaoqi", 50)) if e.action.startswith("case_")]
        assert audit == [("system", "case_open", STATION), ("wang", "case_accept", STATION), ("wang", "case_arrive", STATION),
                         ("wang", "case_handle", STATION), ("duty", "case_verify", STATION), ("duty", "case_close", STATION)]
        assert len(cases.list(DUTY)) == 1  # the alarm's later steps (updated, cleared) opened nothing more
        assert ingest.stats.hook_errors == 0 and loop.stats.errors == 0
    finally:
        station.stop()
        ingest.stop()
        loop.stop()
        store.close()
        cases.db.close()


def test_case_two_ingest_members_open_one_case_for_one_alarm(db_url: str, tmp_path: Path) -> None:
    """Every ingest member sees every alarm (events are subscribed directly): the alarm key makes one case of it."""
    store_alarm(db_url, STATION, "ev-1", 1)
    first, second = make_cases(db_url), make_cases(db_url)
    ref = AlarmRef(STATION, "ev-1", "water_level", "danger", "safety", "水位危险")
    try:
        assert len(first.auto_open([ref], 100.0)) == 1
        assert second.auto_open([ref], 101.0) == [] and second.sweep(102.0) == []
        assert len(second.list(DUTY)) == 1
        assert second.auto_open([AlarmRef(STATION, "ev-2", "water_level", "warning", "safety", "")], 103.0) == []  # a warning opens none
    finally:
        first.db.close()
        second.db.close()
