"""The swimmer centre net (edge_models.centre_detector): peaks are decoded as CenterNet does, the
shipped net loads only with its card's sha256, a region that is not square gives the boxes of the
square one, and the COCO SSD's walkers are kept beside it (a station configured with `head: centre`
raising the person alarm on the drowning clip: tests/drowning/test_drowning_replay.py). No lifeguard
photo is used (CI has no /work/data);
its recall is measured by bench.regions_thresholds (BENCHMARKS.md)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from edge_models.centre_detector import SHIPPED_CENTRE, CentreDetector, decode, peaks, shipped_centre_sha256
from edge_models.detector import SsdDetector
from edge_models.runtime import ModelError, TfliteModel, load_labels
from edge_models.ssd_anchors import iou_matrix
from edge_models.swimmer_head import SHIPPED_FAR_HEAD, SwimmerDetector
from foundation.file_hash import sha256_file
from gateway.config.vision import CameraConfig
from gateway.vision.frame_processor import build_pipeline
from tests.drowning.clips import WATER_Y, X, camera_doc, player, plaza
from tests.vision.conftest import DETECT, LABELS, VTEST, read_frames

CARD = SHIPPED_CENTRE.parent / "SWIMMER_CENTRE.md"


def threshold() -> float:
    """The threshold the model card recommends (chosen on held-back training photos)."""
    m = re.search(r"recommended `min_score`: ([0-9.]+)", CARD.read_text(encoding="utf-8"))
    assert m, "the model card states the recommended min_score"
    return float(m.group(1))


def test_a_person_is_a_local_maximum_of_the_heat_at_or_above_the_threshold() -> None:
    heat = np.zeros((8, 8), np.float32)
    heat[2, 2], heat[2, 3] = 0.9, 0.5  # one person: the neighbour is not a second one
    heat[6, 6] = 0.3
    heat[0, 7] = 0.1  # below the threshold
    rows, cols = peaks(heat, 0.2)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(2, 2), (6, 6)]
    assert peaks(np.zeros((8, 8), np.float32), 0.0)[0].size == 0  # an empty heat holds nobody, whatever the threshold


def test_what_training_asks_of_the_net_decodes_back_to_the_labelled_people() -> None:
    """training/swim/centre_net.encode and the station's decode agree: a net that learned its targets
    exactly returns the labelled boxes (within the offset's clipping), and a person mostly outside
    the crop is neither asked for nor punished."""
    from training.swim.centre_net import GRID, SIDE, STRIDE, encode

    people = np.array([[40, 60, 90, 200], [200, 100, 232, 116], [300, 10, 400, 60]], np.float32)
    visible = np.array([1.0, 1.0, 0.2], np.float32)  # the third is mostly outside the crop
    heat, weight, geom, mask = encode(np.clip(people, 0, SIDE), visible)
    assert heat.shape == (GRID, GRID, 1) and mask.sum() == 2
    g = geom.copy()
    p = np.clip(geom[..., 2:], 1e-4, 1 - 1e-4)
    g[..., 2:] = np.log(p / (1 - p))  # the net outputs the offset before its sigmoid
    boxes, scores = decode(heat[..., 0], g, STRIDE, 0.99)
    assert len(boxes) == 2 and (scores == 1.0).all()
    assert np.abs(boxes[np.argsort(boxes[:, 0])] - people[:2]).max() < 0.01
    assert weight[1:8, 37:40].max() == 0.0 and weight[20, 5] == 1.0  # the cut person's cells are ignored, others not


def test_the_shipped_net_loads_only_with_its_cards_sha256(tmp_path: Path) -> None:
    sha = shipped_centre_sha256()
    assert sha and sha in CARD.read_text(encoding="utf-8") and sha == sha256_file(SHIPPED_CENTRE)
    CentreDetector.load(sha256=sha)
    with pytest.raises(ModelError, match="sha256"):
        CentreDetector.load(sha256="0" * 64)
    with pytest.raises(ModelError, match="not a swimmer centre net"):
        CentreDetector(TfliteModel(DETECT, threads=1))


@pytest.fixture(scope="module")
def net() -> CentreDetector:
    return CentreDetector.load(threads=1)


def test_a_region_that_is_not_square_is_padded_not_squeezed(net: CentreDetector) -> None:
    """The same pixels found in a square tile and in the upper part of it cut as a wide region give
    the same boxes in frame pixels: the net sees people at the scale it was trained on."""
    frame = read_frames(VTEST, 1, 100)[0]
    square = frame[0:320, 200:520]
    wide = square[0:200]
    full = [d for d in net.detect(square, 0.1) if d.box[3] * 320 < 190]  # people wholly inside the top 200 rows
    assert full, "the plaza's walkers give some peaks"
    cut = net.detect(wide, 0.1)
    a = np.asarray([[x1 * 320, y1 * 320, x2 * 320, y2 * 320] for x1, y1, x2, y2 in (d.box for d in full)])
    b = np.asarray([[x1 * 320, y1 * 200, x2 * 320, y2 * 200] for x1, y1, x2, y2 in (d.box for d in cut)])
    assert len(b) and (iou_matrix(a, b).max(axis=1) >= 0.7).all(), (full, cut)


def test_the_coco_ssds_walkers_are_kept_beside_the_centre_net(net: CentreDetector) -> None:
    """A basketball player on a dry plaza (our own media) is no swimmer, and the centre net learned
    people in water; the COCO SSD finds him, and `head: centre` keeps COCO's person box (centre_with_coco)."""
    frame = plaza()
    person = player()
    frame[WATER_Y:WATER_Y + person.shape[0], X:X + person.shape[1]] = person
    x0, y0 = 720, 560  # a tile with the player inside, where the COCO SSD scores him 0.64
    tile = frame[y0:y0 + 320, x0:x0 + 320]
    truth = np.asarray([[(X - x0) / 320, (WATER_Y - y0) / 320, (X - x0 + person.shape[1]) / 320, (WATER_Y - y0 + person.shape[0]) / 320]])
    coco = SsdDetector(TfliteModel(DETECT, threads=1), load_labels(LABELS))
    both = CentreDetector(net.model, coco=coco).detect(tile, threshold())
    assert both and iou_matrix(truth, np.asarray([d.box for d in both])).max() >= 0.5, both
    assert all(d.label == "person" and d.class_id == 0 for d in both)


def test_a_camera_with_head_centre_builds_and_a_bad_net_is_a_clear_error(tmp_path: Path) -> None:
    doc = camera_doc(tmp_path / "x.avi", 5.0, {})
    doc["detection"]["head"] = "centre"
    pipeline = build_pipeline(CameraConfig.model_validate(doc))
    assert isinstance(pipeline.detector, CentreDetector) and pipeline.detector.coco is not None
    doc["detection"]["regions"] = {"mode": "tiles", "far_band": 0.33}
    regions = build_pipeline(CameraConfig.model_validate(doc)).regions
    assert regions is not None and isinstance(regions.far_detector, SwimmerDetector)  # the far band: the SSD and the far head
    assert regions.far_detector.head.path == SHIPPED_FAR_HEAD and regions.far_detector.model is regions.detector.coco.model  # type: ignore[attr-defined]
    doc["detection"]["centre_with_coco"] = False
    alone = build_pipeline(CameraConfig.model_validate(doc))
    assert alone.detector.coco is None and alone.regions is not None and alone.regions.far_detector is alone.detector  # type: ignore[union-attr]
    doc["detection"]["regions"] = {"mode": "tiles"}
    with pytest.raises(ValidationError, match="centre_sha256"):
        CameraConfig.model_validate({**doc, "detection": {**doc["detection"], "centre_sha256": "not-a-digest"}})
    doc["detection"]["centre_sha256"] = "0" * 64
    with pytest.raises(ModelError, match="sha256"):
        build_pipeline(CameraConfig.model_validate(doc))
    doc["detection"]["centre_sha256"] = None
    doc["detection"]["centre_path"] = str(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="not found"):
        build_pipeline(CameraConfig.model_validate(doc))
