"""The person-in-zone and camera fire rules: pure functions, time passed in."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from edge_models.fire_evidence import FireSmokeEvidence
from gateway.alarms import AlarmBook, AlarmSignal
from gateway.rules.person_zone import KIND, ZoneObservation, ZoneSettings, ZoneState, is_armed, person_zone_step
from gateway.rules.vision_fire import FireSettings, FireState, corroborate, vision_fire_step

SHANGHAI = ZoneInfo("Asia/Shanghai")
JULY_NOON = datetime(2026, 7, 15, 12, 0, tzinfo=SHANGHAI).timestamp()


def feed(settings: ZoneSettings, frames: list[tuple[int, ...]], start: float = 0.0, step: float = 0.5, wall: float = JULY_NOON):
    state, out = ZoneState(), []
    for i, ids in enumerate(frames):
        now = start + i * step
        state, signals = person_zone_step(settings, state, ZoneObservation(ids, wall + now), now)
        out.extend((now, s) for s in signals)
    return state, out


def test_raised_after_n_of_m_frames_not_before() -> None:
    s = ZoneSettings("pond-cam/water", trigger_frames=3, window_frames=5)
    _, out = feed(s, [(1,), (), (1,), ()])
    assert out == []
    _, out = feed(s, [(1,), (), (1,), (), (1,)])
    assert len(out) == 1
    now, sig = out[0]
    assert now == 2.0 and sig.kind == KIND and sig.source == "pond-cam/water" and sig.active
    assert sig.severity == "danger" and sig.details["count"] == 1 and sig.details["track_ids"] == [1]
    assert sig.details["dwell_s"] == 2.0
    assert set(sig.updates_on) == {"count", "track_ids"}


def test_count_change_updates_at_most_every_min_update_s() -> None:
    s = ZoneSettings("c/z", trigger_frames=1, window_frames=1, min_update_s=2.0)
    _, out = feed(s, [(1,), (1, 2), (1, 2), (1, 2), (1, 2), (1, 2, 3), (1, 2, 3), (1, 2, 3), (1, 2, 3)])
    assert [sig.details["count"] for _, sig in out] == [1, 2, 3]
    assert [t for t, _ in out] == [0.0, 2.0, 4.0]


def test_cleared_after_the_zone_is_empty_for_t_seconds() -> None:
    s = ZoneSettings("c/z", trigger_frames=1, window_frames=1, clear_after_s=10.0)
    frames = [(4,)] * 4 + [()] * 25  # 2 s occupied, then 12.5 s empty
    state, out = feed(s, frames)
    assert [sig.active for _, sig in out] == [True, False]
    cleared_at, clear = out[1]
    assert cleared_at == pytest.approx(1.5 + 10.0)
    assert clear.details["max_dwell_s"] == 1.5 and not state.active


def test_a_brief_absence_does_not_clear() -> None:
    s = ZoneSettings("c/z", trigger_frames=1, window_frames=1, clear_after_s=10.0)
    _, out = feed(s, [(1,)] + [()] * 10 + [(1,)] + [()] * 5)
    assert [sig.active for _, sig in out] == [True]


def test_schedule_hours_months_and_midnight() -> None:
    def at(month: int, hour: int, minute: int = 0) -> float:
        return datetime(2026, month, 10, hour, minute, tzinfo=SHANGHAI).timestamp()

    summer_days = (("10:00-20:00",), (6, 7, 8, 9))
    assert is_armed(*summer_days, at(7, 10), SHANGHAI)
    assert not is_armed(*summer_days, at(7, 20), SHANGHAI)
    assert not is_armed(*summer_days, at(1, 12), SHANGHAI)
    nights = (("20:00-06:00",), tuple(range(1, 13)))
    assert is_armed(*nights, at(3, 23, 59), SHANGHAI) and is_armed(*nights, at(3, 5), SHANGHAI)
    assert not is_armed(*nights, at(3, 12), SHANGHAI)
    assert is_armed(("00:00-24:00",), (3,), at(3, 0), SHANGHAI)


def test_disarmed_zone_never_raises_and_disarming_clears() -> None:
    s = ZoneSettings("c/z", trigger_frames=1, window_frames=1, hours=("10:00-20:00",), months=(7,), tz=SHANGHAI)
    evening = datetime(2026, 7, 15, 21, 0, tzinfo=SHANGHAI).timestamp()
    _, out = feed(s, [(1,)] * 5, wall=evening)
    assert out == []
    state, out = feed(s, [(1,)] * 2)
    assert out[0][1].active
    state, signals = person_zone_step(s, state, ZoneObservation((1,), evening), 5.0)
    assert len(signals) == 1 and not signals[0].active and "disarmed" in signals[0].summary


def test_alarm_book_sees_raised_updated_cleared() -> None:
    s = ZoneSettings("c/z", trigger_frames=1, window_frames=1, clear_after_s=1.0, min_update_s=0.0)
    _, out = feed(s, [(1,), (1,), (1, 2), ()] + [()] * 3)
    book = AlarmBook(new_id=lambda: "a1")
    states = [tr.state for now, sig in out for tr in book.apply(sig, now)]
    assert states == ["raised", "updated", "cleared"]


def fire_feed(settings: FireSettings, flags: list[tuple[bool, bool]], step: float = 0.5):
    state, out = FireState(), []
    for i, (fire, smoke) in enumerate(flags):
        state, signals = vision_fire_step(settings, state, FireSmokeEvidence(fire, smoke, fire_area=0.1 if fire else 0.0), i * step)
        out.extend((i * step, s) for s in signals)
    return state, out


def test_fire_and_smoke_are_separate_alarms_from_the_camera() -> None:
    s = FireSettings("ridge-cam", trigger_frames=3, window_frames=4, clear_after_s=5.0, refresh_s=100.0)
    _, out = fire_feed(s, [(True, False), (True, True), (False, True), (True, True)] + [(False, False)] * 12)
    kinds = [(sig.kind, sig.active) for _, sig in out]
    assert kinds == [("fire", True), ("smoke", True), ("fire", False), ("smoke", False)]
    raised = out[0][1]
    assert raised.source == "ridge-cam" and raised.category == "safety" and raised.severity == "danger"
    assert raised.details["frames"] == "3/4" and raised.details["peak_area"] == 0.1


def test_fire_restated_while_active_and_escalated_by_a_gpio_input() -> None:
    s = FireSettings("ridge-cam", trigger_frames=1, window_frames=1, refresh_s=2.0)
    _, out = fire_feed(s, [(True, False)] * 9)
    assert [t for t, _ in out] == [0.0, 2.0, 4.0]
    book = AlarmBook(new_id=lambda: "f1")
    first = book.apply(corroborate(out[0][1], []), 0.0)
    assert first[0].state == "raised" and first[0].alarm.severity == "danger"
    assert book.apply(corroborate(out[1][1], []), 2.0) == []  # nothing new: silent
    up = book.apply(corroborate(out[2][1], ["smoke-1"]), 4.0)
    assert up[0].state == "updated" and up[0].escalated and up[0].alarm.severity == "critical"
    assert up[0].alarm.details["confirmed_by"] == ["smoke-1"]


def test_corroborate_leaves_other_signals_alone() -> None:
    water = AlarmSignal("water_level", "gauge", True, severity="danger")
    assert corroborate(water, ["smoke-1"]) is water
    clear = AlarmSignal("fire", "cam", False)
    assert corroborate(clear, ["smoke-1"]) is clear


def test_the_rule_takes_the_edge_models_evidence_as_it_is() -> None:
    """Classical cues and a model's verdict merged into one evidence: the alarm says both saw it."""
    classical = FireSmokeEvidence(fire=True, fire_area=0.03, flicker=12.34, growth=2.5, fire_score=0.7)
    model = FireSmokeEvidence(fire=True, fire_boxes=((0.1, 0.1, 0.4, 0.5),), fire_area=0.05, fire_score=0.9, source="model")
    s = FireSettings("ridge-cam", trigger_frames=1, window_frames=1)
    _, signals = vision_fire_step(s, FireState(), classical.merged(model), 0.0)
    [raised] = signals
    assert raised.kind == "fire" and raised.active
    assert raised.details["evidence"] == "classical+model"
    assert raised.details["area"] == 0.05 and raised.details["score"] == 0.9
    assert raised.details["flicker"] == 12.3 and raised.details["growth"] == 2.5
