"""The shipped fire/smoke head on the shared SSD's backbone: it loads, its sha256 is the pinned one,
and it scores the shared stills as a technician would expect (real SSD, real head, real photos)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.stills import still_clip
from edge_models.fire_head import SHIPPED_HEAD, BackboneFireSmoke, cell_boxes, shipped_head_sha256
from edge_models.fire_learned import SHIPPED_MODEL as V1_MODEL
from edge_models.runtime import ModelError
from tests.vision.conftest import BASKETBALL, DETECT, DETECT_SHA256, FIRE_BASKET, MESSI, PAN_FIRE, SMOKE, VTEST, read_frames

HEAD_SHA256 = "b02cf597994561abcc620c3ee8dd916218e1b729786cb6904f3915ce67f85e33"  # pinned: a retrained head is a deliberate change of this line and of the example
FIRE_THRESHOLD = 0.67  # the shipped threshold (edge_models/models/MODEL_CARD_v2.md)


def _detector(**settings: float | bool) -> BackboneFireSmoke:
    return BackboneFireSmoke.load(DETECT, DETECT_SHA256, head_sha256=HEAD_SHA256, fire_threshold=FIRE_THRESHOLD, **settings)


def test_the_shipped_head_loads_and_matches_its_pin() -> None:
    assert SHIPPED_HEAD.is_file() and SHIPPED_HEAD.stat().st_size < 400_000
    assert shipped_head_sha256() == HEAD_SHA256
    det = _detector()
    assert det.head.input.shape == (1, 10, 10, 768) and det.backbone.input_size == (300, 300)


@pytest.mark.parametrize("path", [FIRE_BASKET, PAN_FIRE])
def test_fire_stills_score_as_fire_with_a_box_on_the_flames(path: Path) -> None:
    det = _detector()
    ev = det.analyse(cv2.imread(str(path)))
    assert ev.fire and ev.fire_score >= FIRE_THRESHOLD and ev.source == "backbone"
    assert ev.fire_boxes and all(0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1 for b in ev.fire_boxes)
    assert ev.fire_area < 1.0  # the cells that burn, not the whole frame


def test_the_smoke_plume_is_not_fire() -> None:
    ev = _detector().analyse(cv2.imread(str(SMOKE)))
    assert not ev.fire and ev.fire_score < FIRE_THRESHOLD


@pytest.mark.parametrize("path", [MESSI, BASKETBALL])
def test_people_stills_score_as_neither(path: Path) -> None:
    """Over a moving clip, smoke scored too: not one frame passes (v1 let red shirts through in crops)."""
    det = _detector(detect_smoke=True)
    verdicts = [det.analyse(frame) for frame in still_clip(cv2.imread(str(path)), frames=12)]
    assert not any(ev.fire for ev in verdicts)
    assert sum(ev.smoke for ev in verdicts) <= 1


def test_pedestrian_video_gives_no_fire() -> None:
    det = _detector()
    assert not any(det.analyse(frame).fire for frame in read_frames(VTEST, 20, start=100))


def test_a_missing_altered_or_wrong_backbone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        BackboneFireSmoke.load(tmp_path / "detect.tflite")
    altered = tmp_path / "detect.tflite"
    shutil.copy(DETECT, altered)
    with altered.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="sha256"):
        BackboneFireSmoke.load(altered, DETECT_SHA256)
    with pytest.raises(ModelError, match="not the COCO SSD"):
        BackboneFireSmoke.load(V1_MODEL)  # a model without the backbone's feature map


def test_an_altered_or_wrong_head_is_refused(tmp_path: Path) -> None:
    altered = tmp_path / "head.tflite"
    shutil.copy(SHIPPED_HEAD, altered)
    altered.write_bytes(altered.read_bytes()[:-1] + b"\1")
    with pytest.raises(ModelError, match="sha256"):
        BackboneFireSmoke.load(DETECT, head_path=altered, head_sha256=HEAD_SHA256)
    with pytest.raises(ModelError, match="per-cell"):
        BackboneFireSmoke.load(DETECT, head_path=V1_MODEL)  # the v1 verifier is not a head


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 3, 3), (10, 4000, 3), (1080, 1920, 3)])
def test_odd_frame_sizes_give_evidence_not_a_crash(shape: tuple[int, int, int]) -> None:
    det = _detector()
    for frame in (np.full(shape, 200, np.uint8), np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)):
        ev = det.analyse(frame)
        assert 0.0 <= ev.fire_score <= 1.0 and not ev.fire


def test_touching_cells_merge_into_one_box() -> None:
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:4] = True
    mask[4, 4] = True  # touches diagonally: same fire
    mask[8, 0] = True
    assert cell_boxes(mask) == ((0.2, 0.2, 0.5, 0.5), (0.0, 0.8, 0.1, 0.9))
