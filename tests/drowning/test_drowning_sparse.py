"""Issue 15: under load frames are analysed a second or more apart, and a walker leaving the water
is last seen mid-zone. His recent motion tells he walked out; someone who went under had stopped."""

from __future__ import annotations

import random

import pytest

from gateway.rules.person_dwell import KIND as LOST
from gateway.rules.person_dwell import DwellSettings, DwellState, Sighting, person_dwell_step

# A square frame, the zone is its lower half: the bank is the line y = 0.5. A person 0.05 of the frame tall.
BANK, HEIGHT = 0.5, 0.05
WALK = 1.4 / 1.7 * HEIGHT  # 1.4 m/s for a 1.7 m person, in frame units a second
SETTINGS = DwellSettings("pond-cam/water", lost_after_s=10.0, edge_margin=0.03, min_tracked_s=2.0)
BAND = HEIGHT + SETTINGS.edge_margin  # feet closer to the bank than this: walked out, never lost


def at(track: int, t: float, feet_y: float, top_jitter: float = 0.0, feet_jitter: float = 0.0) -> Sighting:
    """A person whose feet are at feet_y, the box as the detector gives it and the clearance as the station computes it."""
    y2 = feet_y + feet_jitter
    box = (0.45, y2 - HEIGHT + top_jitter, 0.47, y2)
    return Sighting(track, t, True, (y2 - BANK) - (box[3] - box[1]), box)


def run(frames: list[tuple[float, list[Sighting]]]) -> list[tuple[float, object]]:
    state, out = DwellState(), []
    for now, sightings in frames:
        state, signals = person_dwell_step(SETTINGS, state, sightings, now)
        out.extend((now, s) for s in signals)
    return out


def walk_out(every_s: float, last_feet_y: float) -> list[tuple[float, list[Sighting]]]:
    """Swimming still at the far side for 6 s, then walking to the bank; analysed every `every_s`, last found at last_feet_y."""
    frames, t, y = [], 0.0, 0.98
    while y >= last_feet_y:
        frames.append((t, [at(3, t, y)]))
        t += every_s
        y = 0.98 - WALK * max(0.0, t - 6.0)
    frames += [(t + i * every_s, []) for i in range(int(40 / every_s))]  # never found again: the bank is not analysed
    return frames


@pytest.mark.parametrize("every_s", [1.0, 2.0])
def test_a_walker_last_seen_mid_zone_under_sparse_analysis_is_not_lost(every_s: float) -> None:
    last_feet_y = BANK + BAND + 1.2 * HEIGHT  # last found more than a body height beyond the edge band
    frames = walk_out(every_s, last_feet_y)
    last_seen = [ss for _, ss in frames if ss][-1][0]
    assert last_seen.edge_distance > SETTINGS.edge_margin + HEIGHT  # without his motion he would look lost mid-water
    assert run(frames) == []


@pytest.mark.parametrize("every_s", [0.5, 1.0, 2.0])
def test_a_swimmer_who_stops_and_vanishes_mid_zone_is_raised_as_before(every_s: float) -> None:
    frames, t = [], 0.0
    while t <= 9.0:  # swims towards the bank at half a body height a second for 5 s, stops mid-zone for 4 s, goes under
        frames.append((t, [at(4, t, 0.98 - 0.5 * HEIGHT * min(t, 5.0))]))
        t += every_s
    assert frames[-1][1][0].edge_distance > SETTINGS.edge_margin + 3 * HEIGHT
    last = frames[-1][0]
    frames += [(last + i * every_s, []) for i in range(1, int(20 / every_s))]
    [(when, sig)] = run(frames)
    assert sig.kind == LOST and sig.active and sig.severity == "critical"
    assert when == pytest.approx(last + 10.0, abs=every_s)
    assert ("sighting_gap_s" in sig.details) == (every_s > 1.0)  # sparse analysis is told with the alarm
    if every_s > 1.0:
        assert sig.details["sighting_gap_s"] == every_s


@pytest.mark.parametrize("every_s", [0.5, 1.0, 2.0])
def test_a_still_swimmer_whose_box_jitters_by_a_tenth_of_his_height_is_still_raised(every_s: float) -> None:
    feet_y = BANK + BAND + 1.0 * HEIGHT  # a body height beyond the edge band
    for seed in range(100):
        rnd = random.Random(seed)
        j = 0.1 * HEIGHT
        frames = [(i * every_s, [at(5, i * every_s, feet_y, rnd.uniform(-j, j), rnd.uniform(-j, j))]) for i in range(int(8 / every_s))]
        last = frames[-1][0]
        frames += [(last + i * every_s, []) for i in range(1, int(20 / every_s))]
        out = run(frames)
        assert [(s.kind, s.active) for _, s in out] == [(LOST, True)], f"seed {seed}"


def test_the_worst_jitter_towards_the_bank_is_not_a_walk() -> None:
    """Each box a tenth of a height nearer the bank than the one before, at one analysed frame a second."""
    feet_y = BANK + BAND + 1.0 * HEIGHT
    frames = [(float(i), [at(6, float(i), feet_y)]) for i in range(5)]
    frames += [(5.0 + i, [at(6, 5.0 + i, feet_y, feet_jitter=-0.05 * HEIGHT * i)]) for i in range(3)]  # +-10 %: 0.1 h in 2 s
    frames += [(8.0 + i, []) for i in range(20)]
    assert [(s.kind, s.active) for _, s in run(frames)] == [(LOST, True)]
