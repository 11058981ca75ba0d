"""Each person head brings its own score threshold: a camera that switches `head` without setting
`min_score` keeps the one its model card recommends, on the camera and on its zones (the centre
net's heat is not on the SSD's scale: 0.5 there would drop most swimmers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge_models.centre_detector import SHIPPED_CENTRE
from gateway.config.vision import CameraConfig
from gateway.vision.frame_processor import zones_of
from tests.drowning.clips import camera_doc

CARDS = SHIPPED_CENTRE.parent


def card_thresholds(card: str) -> tuple[float, float]:
    """(with COCO, alone) as the model card recommends them."""
    m = re.search(r"recommended `min_score`: ([0-9.]+) \(.*?alone: ([0-9.]+)\)", (CARDS / card).read_text(encoding="utf-8"))
    assert m, f"{card} states its recommended min_score with and without COCO"
    return float(m.group(1)), float(m.group(2))


def camera(tmp_path: Path, detection: dict, zone: dict | None = None) -> CameraConfig:
    doc = camera_doc(tmp_path / "clip.avi", 5.0, zone or {})
    doc["detection"].update(detection)
    return CameraConfig.model_validate(doc)


@pytest.mark.parametrize(
    ("head", "card", "with_coco_key"),
    [("swimmer", "SWIMMER_HEAD.md", "swimmer_with_coco"), ("centre", "SWIMMER_CENTRE.md", "centre_with_coco")],
)
def test_without_min_score_the_camera_and_its_zone_use_the_heads_card_threshold(tmp_path: Path, head: str, card: str, with_coco_key: str) -> None:
    with_coco, alone = card_thresholds(card)
    for coco, expected in ((True, with_coco), (False, alone)):
        cam = camera(tmp_path, {"head": head, with_coco_key: coco})
        assert cam.detection is not None and cam.detection.threshold() == expected
        assert [z.min_score for z in zones_of(cam)] == [expected]


def test_the_coco_head_keeps_the_ssds_usual_half(tmp_path: Path) -> None:
    cam = camera(tmp_path, {})
    assert cam.detection is not None and cam.detection.threshold() == 0.5 and zones_of(cam)[0].min_score == 0.5


def test_a_threshold_set_by_the_technician_wins_on_the_camera_and_on_the_zone(tmp_path: Path) -> None:
    cam = camera(tmp_path, {"head": "centre", "min_score": 0.45})
    assert cam.detection is not None and cam.detection.threshold() == 0.45 and zones_of(cam)[0].min_score == 0.45
    cam = camera(tmp_path, {"head": "centre"}, {"min_score": 0.6})
    assert cam.detection is not None and cam.detection.threshold() == 0.3 and zones_of(cam)[0].min_score == 0.6
