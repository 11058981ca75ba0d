"""Alarm lifecycle: one id from raised to cleared; restarts close what was left open."""

from __future__ import annotations

from pathlib import Path

from gateway.alarms import AlarmBook, AlarmSignal
from gateway.uplink.outbox import Outbox


def test_lifecycle_keeps_one_event_id(tmp_path: Path) -> None:
    book = AlarmBook()
    raised = book.apply(AlarmSignal("person_in_water_zone", "cam1/swim", True, "danger", details={"count": 1}, updates_on=("count",)), 0)
    same = book.apply(AlarmSignal("person_in_water_zone", "cam1/swim", True, "danger", details={"count": 1, "dwell_s": 3}, updates_on=("count",)), 1)
    more = book.apply(AlarmSignal("person_in_water_zone", "cam1/swim", True, "danger", details={"count": 2}, updates_on=("count",)), 2)
    acked = book.ack(raised[0].alarm.event_id, "王工")
    cleared = book.apply(AlarmSignal("person_in_water_zone", "cam1/swim", False), 3)
    again = book.apply(AlarmSignal("person_in_water_zone", "cam1/swim", False), 4)
    assert [t.state for t in raised + same + more] == ["raised", "updated"]
    assert acked is not None and acked.alarm.acked_by == "王工"
    assert [t.state for t in cleared] == ["cleared"] and again == []
    ids = {t.alarm.event_id for t in raised + more + cleared} | {acked.alarm.event_id}
    assert len(ids) == 1
    assert raised[0].escalated and not more[0].escalated


def test_severity_escalation_is_an_update_that_can_trigger_actions() -> None:
    book = AlarmBook()
    book.apply(AlarmSignal("water_level", "g1", True, "warning"), 0)
    up = book.apply(AlarmSignal("water_level", "g1", True, "danger"), 1)
    down = book.apply(AlarmSignal("water_level", "g1", True, "warning"), 2)
    assert up[0].state == "updated" and up[0].escalated
    assert down[0].state == "updated" and not down[0].escalated


def test_restart_clears_alarms_left_open(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db")
    book = AlarmBook(store=outbox)
    raised = book.apply(AlarmSignal("fire", "flame-1", True, "critical", details={"input": "flame-1"}), 0)
    outbox.close()
    reopened = Outbox(tmp_path / "o.db")
    after = AlarmBook(store=reopened)
    cleared = after.restore(100.0)
    assert [(t.state, t.alarm.event_id) for t in cleared] == [("cleared", raised[0].alarm.event_id)]
    assert "restarted" in cleared[0].reason
    assert AlarmBook(store=reopened).restore(101.0) == []
