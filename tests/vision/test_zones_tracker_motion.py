"""Zone geometry, identity tracking on real detections, and motion gating on real frames."""

from __future__ import annotations

import numpy as np
import pytest

from edge_models.detector import Detection, SsdDetector
from edge_models.motion import MotionGate
from edge_models.runtime import TfliteModel, load_labels
from edge_models.tracker import IouTracker, iou
from edge_models.zones import Zone, bottom_centre, point_in_polygon
from tests.vision.conftest import DETECT, LABELS

pytestmark = pytest.mark.timeout(120)

LOWER_HALF = ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0))


def test_point_in_polygon_convex_and_concave() -> None:
    assert point_in_polygon((0.5, 0.75), LOWER_HALF)
    assert not point_in_polygon((0.5, 0.25), LOWER_HALF)
    notch = ((0, 0), (1, 0), (1, 1), (0.5, 0.4), (0, 1))  # a V cut into the bottom edge
    assert point_in_polygon((0.1, 0.8), notch)
    assert not point_in_polygon((0.5, 0.8), notch)


def test_a_person_counts_by_the_bottom_centre_of_the_box() -> None:
    zone = Zone("water", LOWER_HALF, min_score=0.5, min_area=0.01)
    feet_in = (0.4, 0.3, 0.5, 0.6)  # head above the line, feet below it
    assert bottom_centre(feet_in) == pytest.approx((0.45, 0.6))
    assert zone.admits(feet_in, 0.8)
    assert not zone.admits((0.4, 0.1, 0.5, 0.45), 0.8)  # standing on the bank
    assert not zone.admits(feet_in, 0.4)  # doubtful
    assert not zone.admits((0.4, 0.55, 0.42, 0.6), 0.9)  # too small for this zone
    assert zone.pixels(101, 51)[2] == (100, 50)


def _det(x: float, y: float, w: float = 0.1, h: float = 0.3) -> Detection:
    return Detection((x, y, x + w, y + h), 0.9, 0, "person")


def test_tracker_keeps_identities_and_coasts_over_a_miss() -> None:
    tr = IouTracker(min_hits=2, max_age_s=1.0)
    assert tr.update([_det(0.1, 0.1), _det(0.6, 0.1)], 0.0) == []  # not confirmed yet
    first = {round(t.box[0], 2): t.id for t in tr.update([_det(0.11, 0.1), _det(0.62, 0.1)], 0.1)}
    assert len(first) == 2
    coasting = tr.update([_det(0.12, 0.1)], 0.2)  # the second person was missed once
    assert {t.id for t in coasting} == set(first.values())
    later = tr.update([_det(0.13, 0.1), _det(0.66, 0.1)], 0.3)
    assert {t.id for t in later} == set(first.values())
    assert tr.update([], 2.0) == []  # everybody gone for longer than max_age_s


def test_tracker_bridges_a_gap_by_centre_distance() -> None:
    tr = IouTracker(min_hits=1, max_distance=1.0)
    a = tr.update([_det(0.10, 0.1)], 0.0)[0]
    b = tr.update([_det(0.22, 0.1)], 2.0)[0]  # no overlap left (skipped frames), but close
    assert iou(a.box, b.box) == 0.0
    assert a.id == b.id and b.hits == 2


def test_tracker_on_real_frames_keeps_most_identities(vtest_frames: list[np.ndarray]) -> None:
    detector = SsdDetector(TfliteModel(DETECT, threads=2), load_labels(LABELS))
    tr = IouTracker()
    seen: list[set[int]] = []
    for i, frame in enumerate(vtest_frames[:30]):
        people = [d for d in detector.detect(frame, 0.5) if d.label == "person"]
        seen.append({t.id for t in tr.update(people, i / 10)})
    kept = [len(a & b) / max(1, len(a)) for a, b in zip(seen[5:], seen[6:])]
    assert np.mean(kept) > 0.8  # from one frame to the next, most identities survive


def test_motion_gate_skips_a_static_scene_and_forces_a_frame(vtest_frames: list[np.ndarray]) -> None:
    gate = MotionGate(force_every_s=2.0)
    still = vtest_frames[0]
    rng = np.random.default_rng(1)
    runs = []
    for i in range(50):  # 5 s of the same picture with sensor noise, at 10 fps
        noisy = np.clip(still.astype(np.int16) + rng.normal(0, 2, still.shape).astype(np.int16), 0, 255).astype(np.uint8)
        runs.append(gate.check(noisy, i / 10).run)
    assert runs[0] and sum(runs) == 3  # the first frame, then a forced one every 2 s
    moved = gate.check(vtest_frames[30], 5.0)  # people walked meanwhile
    assert moved.run and moved.changed > gate.min_changed and not moved.forced


def test_motion_gate_disabled_runs_every_frame(vtest_frames: list[np.ndarray]) -> None:
    gate = MotionGate(enabled=False)
    assert all(gate.check(vtest_frames[0], i / 10).run for i in range(5))
