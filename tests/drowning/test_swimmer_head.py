"""The swimmer head on the shared COCO SSD: the anchors and their decoding reproduce the model's
own person boxes, the shipped head loads (and only with its sha256), it finds a small person in
a tile built from our own media (a station configured with `head: swimmer` raising the person
alarm on the drowning clip: tests/drowning/test_drowning_replay.py). No lifeguard photo is used
here (CI has no /work/data)."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge_models.detector import SsdDetector
from edge_models.runtime import ModelError, TfliteModel, load_labels
from edge_models.ssd_anchors import decode, iou_matrix, nms, ssd_anchors
from edge_models.swimmer_head import LOGITS, SHIPPED_FAR_HEAD, SHIPPED_HEAD, SwimmerDetector, SwimmerHead, shipped_head_sha256
from foundation.file_hash import sha256_file
from gateway.config.vision import CameraConfig
from gateway.vision.frame_processor import build_pipeline
from tests.drowning.clips import camera_doc, plaza
from tests.vision.conftest import BASKETBALL, DETECT, LABELS, MESSI, VTEST, read_frames

CARD = SHIPPED_HEAD.parent / "SWIMMER_HEAD.md"


@pytest.fixture(scope="module")
def ssd() -> TfliteModel:
    return TfliteModel(DETECT, threads=1, keep_tensors=True)


def test_the_generated_anchors_are_the_ones_inside_the_model(ssd: TfliteModel) -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (1917, 4)
    assert np.abs(anchors - ssd.tensor("anchors")).max() <= 0.0065  # one step of the stored uint8 anchors


@pytest.mark.parametrize("image", [BASKETBALL, MESSI, VTEST])
def test_decoding_every_anchor_reproduces_the_models_own_person_boxes(ssd: TfliteModel, image: Path) -> None:
    bgr = read_frames(VTEST, 1, 100)[0] if image == VTEST else cv2.imread(str(image))
    own = [d for d in SsdDetector(ssd, load_labels(LABELS)).decode(ssd.run(bgr), 0.3) if d.label == "person"]
    assert own, "the media must hold people the model finds"
    boxes = np.clip(decode(ssd.tensor("concat"), ssd.tensor("anchors")), 0, 1)
    person = 1 / (1 + np.exp(-ssd.tensor(LOGITS)[0, :, 1]))
    for d in own:  # each box the model's post-processing gives is one anchor's decoded box and person score
        iou = iou_matrix(np.asarray([d.box]), boxes)[0]
        best = int(np.argmax(iou))
        assert iou[best] >= 0.999 and abs(person[best] - d.score) <= 0.005, (d, iou[best], person[best])
    # and the person score, NMS 0.6 (as the model's op) keeps the model's confident person boxes
    idx = np.flatnonzero(person >= 0.5)
    mine = boxes[[idx[k] for k in nms(boxes[idx], person[idx], 0.6)]]
    for d in (d for d in own if d.score >= 0.5):
        assert iou_matrix(np.asarray([d.box]), mine)[0].max() >= 0.999


def test_the_shipped_head_loads_and_its_sha256_is_the_model_cards() -> None:
    card = CARD.read_text(encoding="utf-8")
    assert shipped_head_sha256() in card and sha256_file(DETECT) in card
    SwimmerHead(sha256=shipped_head_sha256())
    with pytest.raises(ModelError, match="sha256"):
        SwimmerHead(sha256="0" * 64)


def test_the_head_needs_the_ssd_it_was_trained_on(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="keep_tensors"):
        SwimmerDetector(TfliteModel(DETECT, threads=1), SwimmerHead())
    with pytest.raises(ModelError, match="not a swimmer head"):
        SwimmerHead(DETECT)


@pytest.mark.parametrize("start", [100, 400])
def test_the_shipped_detector_keeps_the_walkers_coco_finds(ssd: TfliteModel, start: int) -> None:
    """`head: swimmer` scores the better of the head and COCO per anchor: the people walking on the
    plaza (vtest.avi, our own media) stay found at the card's threshold, boxes and all."""
    frame = read_frames(VTEST, 1, start)[0]
    coco = [d for d in SsdDetector(TfliteModel(DETECT, threads=1), load_labels(LABELS)).detect(frame, 0.5) if d.label == "person"]
    assert coco
    found = SwimmerDetector(ssd, SwimmerHead()).detect(frame, threshold())
    assert found and all(d.label == "person" for d in found)
    iou = iou_matrix(np.asarray([d.box for d in coco]), np.asarray([d.box for d in found]))
    assert (iou.max(axis=1) >= 0.5).all(), (coco, found)


def threshold() -> float:
    """The threshold the model card recommends (chosen on held-back training photos)."""
    m = re.search(r"recommended `min_score`: ([0-9.]+)", CARD.read_text(encoding="utf-8"))
    assert m, "the model card states the recommended min_score"
    return float(m.group(1))


def test_a_camera_with_head_swimmer_builds_and_a_bad_head_is_a_clear_error(tmp_path: Path) -> None:
    doc = camera_doc(tmp_path / "x.avi", 5.0, {})
    doc["detection"]["head"] = "swimmer"
    pipeline = build_pipeline(CameraConfig.model_validate(doc))
    assert isinstance(pipeline.detector, SwimmerDetector)
    with pytest.raises(ValidationError, match="head"):
        CameraConfig.model_validate({**doc, "detection": {**doc["detection"], "head": "yolo"}})
    doc["detection"]["swimmer_head_sha256"] = "0" * 64
    with pytest.raises(ModelError, match="sha256"):
        build_pipeline(CameraConfig.model_validate(doc))
    doc["detection"]["swimmer_head_sha256"] = None
    doc["detection"]["swimmer_head_path"] = str(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="not found"):
        build_pipeline(CameraConfig.model_validate(doc))


def test_the_far_band_is_scored_by_the_far_head_at_its_own_threshold(tmp_path: Path) -> None:
    """Far-band tiles get the head trained on zoomed-up far swimmers (pinned by its card), the rest
    the ordinary head; `far_min_score` is the technician's knob for the false boxes that head
    makes on a dry plaza, which the far-band tiles zoom up (SWIMMER_HEAD_FAR.md)."""
    far_sha = sha256_file(SHIPPED_FAR_HEAD)
    assert far_sha in (SHIPPED_FAR_HEAD.parent / "SWIMMER_HEAD_FAR.md").read_text(encoding="utf-8") and far_sha != shipped_head_sha256()
    doc = camera_doc(tmp_path / "x.avi", 5.0, {})
    doc["detection"].update({"head": "swimmer", "regions": {"mode": "tiles", "max_invokes": 64, "far_band": 0.33}})
    regions = build_pipeline(CameraConfig.model_validate(doc)).regions
    assert regions is not None and regions.far_detector is not regions.detector
    for pin in ({"far_head_sha256": "0" * 64}, {"far_head_path": str(tmp_path / "missing.tflite")}):
        with pytest.raises(ModelError, match="sha256" if "far_head_sha256" in pin else "not found"):
            build_pipeline(CameraConfig.model_validate({**doc, "detection": {**doc["detection"], **pin}}))
    assert regions.far_detector.head.path == SHIPPED_FAR_HEAD and regions.detector.head.path == SHIPPED_HEAD  # type: ignore[attr-defined]
    assert regions.far_detector.model is regions.detector.model  # type: ignore[attr-defined]  # one SSD invoke per tile
    frame = plaza()
    boxes = {}
    for far_min in (None, 0.7):
        doc["detection"]["regions"]["far_min_score"] = far_min
        pipeline = build_pipeline(CameraConfig.model_validate(doc))
        for i in range(4):  # about 140 regions, 64 a frame: every one visited
            people = pipeline.process(frame, i / 5).people
        assert pipeline.regions is not None
        band = max(r.rect.y2 for r in pipeline.regions.planner.regions if r.far)
        boxes[far_min] = [d.score for d in people if (d.box[1] + d.box[3]) / 2 * 1080 < band]
    assert boxes[None] and len(boxes[None]) > len(boxes[0.7]), boxes
    doc["detection"]["regions"] = {"mode": "tiles"}
    plain = build_pipeline(CameraConfig.model_validate(doc)).regions
    assert plain is not None and plain.far_detector is plain.detector
