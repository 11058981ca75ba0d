"""Each person followed, lost in the water, the warning repeated until the water is empty: the pure rules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.alarms import AlarmBook, AlarmSignal
from gateway.config.vision import ZoneConfig
from gateway.rules.person_dwell import KIND as LOST
from gateway.rules.person_dwell import DwellSettings, DwellState, Sighting, entered_times, person_dwell_step
from gateway.rules.person_zone import ZoneObservation, ZoneSettings, ZoneState, person_zone_step
from gateway.rules.warning_repeat import RepeatSettings, RepeatState, warning_repeat_step

JULY_NOON = datetime(2026, 7, 15, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
MID = (0.45, 0.6, 0.47, 0.64)  # a swimmer well inside a zone covering the lower half
EDGE = (0.45, 0.47, 0.47, 0.51)  # feet just below the bank at y = 0.5


def seen(track: int, t: float, box=MID, inside: bool = True, edge: float = 0.1) -> Sighting:  # noqa: ANN001
    return Sighting(track, t, inside, edge, box)


def run_dwell(settings: DwellSettings, frames: list[list[Sighting]], step: float = 0.5):
    state, out = DwellState(), []
    for i, sightings in enumerate(frames):
        state, signals = person_dwell_step(settings, state, sightings, i * step)
        out.extend((i * step, s) for s in signals)
    return state, out


# ------------------------------------------------------------------------------ dwell and severity


def test_severity_rises_with_dwell_and_updates_only_when_something_changes() -> None:
    s = ZoneSettings("pond-cam/water", trigger_frames=1, window_frames=1, severity="warning",
                     escalate=((30.0, "danger"), (90.0, "critical")), max_snapshots=2)
    state, out = ZoneState(), []
    for i in range(240):  # one swimmer for two minutes, a frame every half second, under a new track id now and then
        now = i * 0.5
        track = 1 if now < 40 else 2
        state, signals = person_zone_step(s, state, ZoneObservation((track,), JULY_NOON + now, entered=((track, 0.0),)), now)
        out.extend((now, x) for x in signals)
    assert [(t, x.severity) for t, x in out] == [(0.0, "warning"), (30.0, "danger"), (90.0, "critical")]
    assert [x.fresh_evidence for _, x in out] == [True, True, False]  # snapshots bounded per alarm
    assert out[1][1].details["count"] == 1 and out[1][1].details["dwell_s"] == 30.0
    assert out[2][1].details["dwell_s"] == 90.0  # the new track id kept the person's entry time
    book = AlarmBook(new_id=lambda: "e1")
    states = [tr.state for t, x in out for tr in book.apply(x, t)]
    assert states == ["raised", "updated", "updated"]


def test_changing_track_ids_alone_update_nothing() -> None:
    s = ZoneSettings("c/z", trigger_frames=1, window_frames=1, min_update_s=0.0)
    state, out = ZoneState(), []
    for i, ids in enumerate([(1,), (2,), (3,), (3, 4), (5, 6), (5,)]):
        state, signals = person_zone_step(s, state, ZoneObservation(ids, JULY_NOON), float(i))
        out.extend(x.details["count"] for x in signals)
    assert out == [1, 2, 1]


def test_escalation_config_is_validated_and_described() -> None:
    ok = ZoneConfig(id="w", polygon=[(0, 0.5), (1, 0.5), (1, 1)], severity="warning", escalate=[{"after_s": 60, "severity": "danger"}])
    assert ok.escalate[0].after_s == 60
    with pytest.raises(ValueError, match="higher severity"):
        ZoneConfig(id="w", polygon=[(0, 0.5), (1, 0.5), (1, 1)], severity="danger", escalate=[{"after_s": 60, "severity": "danger"}])
    with pytest.raises(ValueError, match="pause_s"):
        ZoneConfig(id="w", polygon=[(0, 0.5), (1, 0.5), (1, 1)], warning_repeat={"interval_s": 20, "pause_s": 10})
    for name in ("escalate", "lost_in_water", "warning_repeat"):
        assert ZoneConfig.model_fields[name].description


# ------------------------------------------------------------------------------ lost in the water


def test_a_person_who_vanishes_mid_zone_is_lost_after_t_seconds() -> None:
    s = DwellSettings("pond-cam/water", lost_after_s=10.0, edge_margin=0.03, min_tracked_s=2.0)
    frames = [[seen(7, i * 0.5)] for i in range(10)] + [[]] * 30  # 4.5 s swimming, then gone
    state, out = run_dwell(s, frames)
    [(t, sig)] = out
    assert t == pytest.approx(4.5 + 10.0)
    assert sig.kind == LOST and sig.active and sig.severity == "critical" and sig.fresh_evidence
    assert sig.details["lost"] == 1 and sig.details["track_ids"] == [7] and sig.details["last_box"] == list(MID)
    assert sig.details["dwell_before_lost_s"] == 4.5 and sig.details["count"] == 0
    assert state.active


def test_not_lost_when_the_track_walks_out_at_an_edge_or_is_seen_outside() -> None:
    s = DwellSettings("c/z", lost_after_s=5.0, edge_margin=0.03, min_tracked_s=1.0)
    at_edge = [[seen(1, i * 0.5)] for i in range(6)] + [[seen(1, 3.0, EDGE, edge=0.01)]] + [[]] * 30
    assert run_dwell(s, at_edge)[1] == []
    outside = [[seen(1, i * 0.5)] for i in range(6)] + [[seen(1, 3.0, (0.4, 0.3, 0.42, 0.45), inside=False, edge=-0.05)]] + [[]] * 30
    state, out = run_dwell(s, outside)
    assert out == [] and entered_times(state) == {}


def test_a_short_false_detection_is_never_lost() -> None:
    s = DwellSettings("c/z", lost_after_s=5.0, min_tracked_s=2.0)
    assert run_dwell(s, [[seen(1, 0.0)], [seen(1, 0.5)]] + [[]] * 30)[1] == []


def test_found_again_under_a_new_id_is_the_same_person_and_ends_the_alarm() -> None:
    s = DwellSettings("c/z", lost_after_s=5.0, min_tracked_s=1.0)
    near = (0.46, 0.61, 0.48, 0.65)
    hidden = [[seen(1, i * 0.5)] for i in range(6)] + [[]] * 6 + [[seen(2, 6.0 + i * 0.5, near)] for i in range(4)]
    state, out = run_dwell(s, hidden)
    assert out == [] and entered_times(state) == {2: 0.0}  # a wave hid him for 3 s: dwell goes on from his entry
    lost_then_back = [[seen(1, i * 0.5)] for i in range(6)] + [[]] * 14 + [[seen(3, 10.0, near)]]
    state, out = run_dwell(s, lost_then_back)
    assert [(x.kind, x.active) for _, x in out] == [(LOST, True), (LOST, False)]
    assert "seen again" in out[1][1].summary and not state.active


def test_the_lost_alarm_ends_after_hold_s_and_new_losses_update_it() -> None:
    s = DwellSettings("c/z", lost_after_s=2.0, min_tracked_s=0.5, hold_s=60.0, max_snapshots=3)
    far = (0.1, 0.7, 0.12, 0.74)
    frames = [[seen(1, i * 0.5), seen(2, i * 0.5, far)] for i in range(4)] + [[seen(2, 2.0 + i * 0.5, far)] for i in range(6)]
    frames += [[]] * 140
    _, out = run_dwell(s, frames)
    assert [(x.active, x.details.get("lost")) for _, x in out] == [(True, 1), (True, 2), (False, 0)]
    assert out[1][1].fresh_evidence  # someone else lost: a new picture
    assert out[2][0] == pytest.approx(out[0][0] + 60.0)


def test_a_disarmed_zone_ends_the_lost_alarm() -> None:
    s = DwellSettings("c/z", lost_after_s=1.0, min_tracked_s=0.0)
    state, _ = run_dwell(s, [[seen(1, 0.0)], [seen(1, 0.5)]] + [[]] * 4)
    assert state.active
    state, out = person_dwell_step(s, state, [], 10.0, armed=False)
    assert [x.active for x in out] == [False] and not state.active


# ------------------------------------------------------------------------------ warning until empty


def repeat(settings: RepeatSettings, presence: list[bool], critical: bool = False, minute: int | None = 12 * 60):
    state, plays = RepeatState(), []
    for second, present in enumerate(presence):
        state, action = warning_repeat_step(settings, state, present, critical, float(second), minute)
        if action is not None:
            plays.append((second, action))
    return plays


def test_the_warning_repeats_while_someone_is_in_the_zone_with_runs_and_pauses() -> None:
    s = RepeatSettings(interval_s=10.0, cycles=3, pause_s=60.0)
    plays = repeat(s, [True] * 150)
    assert [t for t, _ in plays] == [0, 10, 20, 80, 90, 100]
    assert {a for _, a in plays} == {"play"}


def test_the_warning_stops_when_the_zone_is_empty_and_starts_afresh() -> None:
    s = RepeatSettings(interval_s=10.0, cycles=3, pause_s=60.0)
    plays = repeat(s, [True] * 25 + [False] * 20 + [True] * 15)
    assert [t for t, _ in plays] == [0, 10, 20, 45, 55]


def test_quiet_hours_hold_the_warning_once_but_not_a_critical_one() -> None:
    s = RepeatSettings(interval_s=10.0, cycles=3, pause_s=60.0, quiet_start_min=22 * 60, quiet_end_min=6 * 60)
    night = 23 * 60
    assert repeat(s, [True] * 100, minute=night) == [(0, "held")]
    assert [t for t, a in repeat(s, [True] * 30, critical=True, minute=night) if a == "play"] == [0, 10, 20]
    assert [t for t, _ in repeat(s, [True] * 30, minute=None)] == [0, 10, 20]  # clock not trusted yet: no quiet hours


# ------------------------------------------------------------------------------ evidence in the alarm book


def test_fresh_evidence_is_an_update_and_a_restatement_is_not() -> None:
    book = AlarmBook(new_id=lambda: "e1")
    raised = AlarmSignal("person_in_water_zone", "c/z", True, details={"count": 1}, updates_on=("count",), snapshot_jpeg=b"1", fresh_evidence=True)
    assert [tr.snapshot_jpeg for tr in book.apply(raised, 0.0)] == [b"1"]
    same = AlarmSignal("person_in_water_zone", "c/z", True, details={"count": 1}, updates_on=("count",), snapshot_jpeg=b"2")
    assert book.apply(same, 1.0) == []
    fresh = AlarmSignal("person_in_water_zone", "c/z", True, details={"count": 1}, updates_on=("count",), snapshot_jpeg=b"3", fresh_evidence=True)
    [tr] = book.apply(fresh, 2.0)
    assert tr.state == "updated" and tr.snapshot_jpeg == b"3"


def test_a_twin_track_ending_mid_water_while_the_person_walks_on_is_not_lost() -> None:
    """A detection kept from a tile not yet revisited leaves a twin track behind the walking person."""
    s = DwellSettings("c/z", lost_after_s=3.0, min_tracked_s=1.0)
    step_up = (0.45, 0.57, 0.47, 0.61)
    frames = [[seen(1, i * 0.5)] for i in range(6)]  # swimming, then walking towards the bank
    frames += [[seen(1, 3.0 + i * 0.5), seen(2, 3.0 + i * 0.5, step_up, edge=0.1 - 0.03 * i)] for i in range(4)]  # a stale twin stays
    frames += [[]] * 20  # the walker leaves the watched region; the twin ends where he was
    state, out = run_dwell(s, frames)
    assert out == [] and not state.active


def test_a_count_is_told_once_it_has_settled_not_for_every_flicker() -> None:
    s = ZoneSettings("c/z", trigger_frames=1, window_frames=1, min_update_s=2.0, count_settle_s=3.0)
    frames = [(1,)] * 4 + [(1, 2), (1,)] * 10 + [(1, 2)] * 10  # a passer-by flickering at the edge, then a second swimmer stays
    state, out = ZoneState(), []
    for i, ids in enumerate(frames):
        state, signals = person_zone_step(s, state, ZoneObservation(ids, JULY_NOON), i * 0.5)
        out.extend((i * 0.5, x.details["count"]) for x in signals)
    assert out == [(0.0, 1), (12.0 + 3.0, 2)]
