"""The pure suppression rules: overlap, margin, expiry, the per-camera bound, evidence filtering."""

from __future__ import annotations

from edge_models.fire_evidence import FireSmokeEvidence
from gateway.rules import fire_suppression as fs
from gateway.rules.fire_suppression import Suppression

SPOT = (0.1, 0.1, 0.3, 0.3)
ELSEWHERE = (0.6, 0.5, 0.9, 0.9)


def sup(region=SPOT, until=1000.0, added_at=0.0, camera="cam", kind="fire") -> Suppression:  # noqa: ANN001
    return Suppression(camera, kind, region, until, added_at)


def fire(*boxes) -> FireSmokeEvidence:  # noqa: ANN002
    return FireSmokeEvidence(fire=True, fire_boxes=boxes, fire_area=max(fs.area(b) for b in boxes), fire_score=0.95, source="model")


def test_overlap_is_intersection_over_the_smaller_box() -> None:
    assert fs.overlap(SPOT, SPOT) == 1.0
    assert fs.overlap((0.15, 0.15, 0.2, 0.2), SPOT) == 1.0  # inside
    assert fs.overlap(fs.WHOLE, SPOT) == 1.0  # holds the region
    assert fs.overlap(SPOT, ELSEWHERE) == 0.0
    assert abs(fs.overlap((0.2, 0.1, 0.4, 0.3), SPOT) - 0.5) < 1e-9


def test_margin_widens_inside_the_frame() -> None:
    assert fs.widen((0.02, 0.5, 0.5, 0.99), 0.05) == (0.0, 0.45, 0.55, 1.0)


def test_alarm_box_prefers_specific_boxes_to_the_whole_frame() -> None:
    assert fs.alarm_box([fs.WHOLE, SPOT, (0.2, 0.2, 0.4, 0.35)]) == (0.1, 0.1, 0.4, 0.35)
    assert fs.alarm_box([fs.WHOLE]) == fs.WHOLE
    assert fs.alarm_box([]) == fs.WHOLE


def test_evidence_on_the_spot_is_dropped_elsewhere_kept() -> None:
    out = fs.filter_evidence(fire(fs.WHOLE, (0.12, 0.12, 0.28, 0.28)), [sup()], "cam", now=10)
    assert not out.fire and out.fire_boxes == () and out.fire_score == 0.0 and out.fire_area == 0.0
    out = fs.filter_evidence(fire(fs.WHOLE, (0.12, 0.12, 0.28, 0.28), ELSEWHERE), [sup()], "cam", now=10)
    assert out.fire and out.fire_boxes == (ELSEWHERE,)


def test_only_its_camera_and_kind_and_only_until_it_expires() -> None:
    ev = fire((0.12, 0.12, 0.28, 0.28))
    assert fs.filter_evidence(ev, [sup()], "other-cam", now=10) == ev
    assert fs.filter_evidence(ev, [sup(kind="smoke")], "cam", now=10) == ev
    assert fs.filter_evidence(ev, [sup(until=10.0)], "cam", now=10) == ev  # expired at its deadline
    assert not fs.filter_evidence(ev, [sup(until=10.5)], "cam", now=10).fire


def test_a_boxless_flag_counts_as_the_whole_frame() -> None:
    ev = FireSmokeEvidence(smoke=True, smoke_area=0.3, smoke_score=0.8)
    out = fs.filter_evidence(ev, [sup(kind="smoke")], "cam", now=1)
    assert not out.smoke


def test_bound_per_camera_drops_the_oldest_and_expired_go() -> None:
    items: list[Suppression] = []
    for i in range(10):
        items = fs.add(items, sup(added_at=float(i), region=(0.0, 0.0, 0.1 + i / 100, 0.1)), now=float(i), max_per_camera=8)
    items = fs.add(items, sup(camera="b", added_at=10.0), now=10.0, max_per_camera=8)
    assert [s.added_at for s in items if s.camera == "cam"] == [float(i) for i in range(2, 10)]
    assert fs.counts(items, now=10.0) == {"cam": 8, "b": 1}
    items = fs.add(items, sup(camera="b", added_at=2000.0, until=3000.0), now=2000.0)
    assert fs.counts(items, now=2000.0) == {"b": 1}
