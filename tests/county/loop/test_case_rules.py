"""The case's state machine and the escalation rule, pure: time passed in, a day of steps in microseconds."""

from __future__ import annotations

import pytest

from county.cases.rules import CaseState, Step, apply, escalate
from county.i18n import Refused

T0 = 1_000_000.0
NEW = CaseState("dispatched", 0, T0 + 900, T0 + 7200)


def run(case: CaseState, *steps: Step, now: float = T0) -> CaseState:
    for s in steps:
        case = apply(case, s, now, 900, 7200)
    return case


def test_case_goes_the_whole_way_from_dispatch_to_closed_as_resolved() -> None:
    case = run(NEW, Step("accept", "wang"), Step("arrive", "wang"), Step("handle", "wang", "已劝离岸边两名儿童", ("p1", "p2")),
               Step("verify", "duty"), Step("close", "duty", result="resolved"))
    assert (case.state, case.result, case.handled_by) == ("closed", "resolved", "wang")


def test_case_steps_out_of_order_are_refused_with_the_reason_in_both_languages() -> None:
    with pytest.raises(Refused) as err:
        run(NEW, Step("handle", "wang", "done"))
    assert "已派件" in err.value.zh and "dispatched" in err.value.en
    with pytest.raises(Refused):
        run(NEW, Step("verify", "duty"))
    with pytest.raises(Refused):
        run(NEW, Step("fly", "duty"))


def test_case_handling_needs_a_note_and_the_handler_cannot_verify_their_own_work() -> None:
    on_site = run(NEW, Step("accept", "wang"), Step("arrive", "wang"))
    with pytest.raises(Refused, match="note"):
        run(on_site, Step("handle", "wang", "  "))
    handled = run(on_site, Step("handle", "wang", "已处置"))
    with pytest.raises(Refused) as err:
        run(handled, Step("verify", "wang"))
    assert "处置人" in err.value.zh


def test_case_sent_back_returns_to_dispatched_with_fresh_deadlines_and_needs_a_reason() -> None:
    handled = run(NEW, Step("accept", "wang"), Step("arrive", "wang"), Step("handle", "wang", "已处置"))
    with pytest.raises(Refused):
        run(handled, Step("send_back", "duty"))
    back = apply(handled, Step("send_back", "duty", "照片看不清,请补拍"), T0 + 5000, 900, 7200)
    assert (back.state, back.handled_by, back.accept_due, back.handle_due) == ("dispatched", None, T0 + 5900, T0 + 12200)


def test_case_false_alarm_closes_at_once_but_resolved_needs_verification() -> None:
    assert run(NEW, Step("close", "duty", result="false_alarm")).result == "false_alarm"
    with pytest.raises(Refused, match="verified"):
        run(NEW, Step("close", "duty", result="resolved"))
    with pytest.raises(Refused):
        run(NEW, Step("close", "duty"))
    closed = run(NEW, Step("close", "duty", result="duplicate"))
    with pytest.raises(Refused, match="closed"):
        run(closed, Step("accept", "wang"))


def test_case_notes_and_photo_ids_are_bounded() -> None:
    accepted = run(NEW, Step("accept", "wang"), Step("arrive", "wang"))
    with pytest.raises(Refused):
        run(accepted, Step("handle", "wang", "x" * 5000))
    with pytest.raises(Refused):
        run(accepted, Step("handle", "wang", "ok", tuple(f"p{i}" for i in range(11))))
    with pytest.raises(Refused):
        run(accepted, Step("handle", "wang", "ok", ("bad id",)))


def test_escalation_not_accepted_in_time_goes_one_rung_up_then_is_only_marked_at_the_top() -> None:
    assert escalate(NEW, T0 + 899, 3, 900, 7200) is None
    up, why = escalate(NEW, T0 + 900, 3, 900, 7200)  # type: ignore[misc]
    assert (up.level, up.overdue, why, up.accept_due) == (1, True, "not_accepted", T0 + 1800)
    top, _ = escalate(up, T0 + 1800, 3, 900, 7200)  # type: ignore[misc]
    assert top.level == 2
    assert escalate(top, T0 + 99999, 3, 900, 7200) is None  # at the top and already marked: nothing more


def test_escalation_accepted_but_not_handled_in_time_also_escalates_and_handled_cases_never_do() -> None:
    accepted = run(NEW, Step("accept", "wang"))
    assert escalate(accepted, T0 + 7199, 3, 900, 7200) is None
    up, why = escalate(accepted, T0 + 7200, 3, 900, 7200)  # type: ignore[misc]
    assert (up.level, why, up.handle_due) == (1, "not_handled", T0 + 14400)
    handled = run(NEW, Step("accept", "wang"), Step("arrive", "wang"), Step("handle", "wang", "ok"))
    assert escalate(handled, T0 + 10**6, 3, 900, 7200) is None
