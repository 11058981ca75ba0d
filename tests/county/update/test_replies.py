"""How a station's replies move its row (pure): progress, the end, and replies that cannot be trusted."""

from __future__ import annotations

from county.update.progress import state_text
from county.update.runner import StationRun, after_reply

RUN = StationRun("c/t/v/s1", "canary", "1.0", "1.1", state="sent")


def test_downloading_then_restarting_then_updated() -> None:
    run = after_reply(RUN, {"outcome": "downloading", "ok": True, "result": {"bytes": 450, "size": 1000}})
    assert run.state == "downloading" and run.percent == 45
    assert state_text(run, "zh") == "[试点] 下载中 45%" and state_text(run, "en") == "[canary] downloading 45%"
    run = after_reply(run, {"outcome": "restarting", "ok": True, "result": {"from": "1.0", "to": "1.1"}})
    assert run.state == "restarting" and state_text(run, "zh") == "[试点] 重启中"
    run = after_reply(run, {"outcome": "updated", "ok": True, "result": {"version": "1.1", "previous": "1.0"}})
    assert run.state == "updated" and state_text(run, "zh") == "[试点] 已更新"


def test_an_end_state_stays() -> None:
    rolled = after_reply(RUN, {"outcome": "rolled_back", "ok": False, "result": {"version": "1.0", "failed": "1.1", "reason": "loops silent"}})
    assert (rolled.state, rolled.reason) == ("rolled_back", "loops silent")
    assert after_reply(rolled, {"outcome": "updated", "ok": True, "result": {"version": "1.1"}}) == rolled


def test_replies_that_do_not_add_up_are_failures() -> None:
    wrong = after_reply(RUN, {"outcome": "updated", "ok": True, "result": {"version": "9.9"}})
    assert wrong.state == "failed" and "reports version 9.9" in wrong.reason
    assert after_reply(RUN, {"outcome": "done", "ok": True, "result": {"simulated": True}}).state == "failed"  # a station that does not know update
    refused = after_reply(RUN, {"outcome": "refused", "ok": False, "reason": "tampered: sha256 differs"})
    assert (refused.state, refused.reason) == ("refused", "tampered: sha256 differs")
    odd = after_reply(RUN, {"outcome": "downloading", "ok": True, "result": {"bytes": -5, "size": True}})
    assert odd.state == "downloading" and odd.percent is None


def test_a_model_already_in_use_counts_as_updated() -> None:
    """A model update naming the model a station already runs goes through config/set, which answers `unchanged`."""
    run = after_reply(RUN, {"outcome": "unchanged", "ok": True, "result": {"config_hash": "ab12"}})
    assert (run.state, run.reason) == ("updated", "")
    assert after_reply(RUN, {"outcome": "unchanged", "ok": False}).state == "failed"
