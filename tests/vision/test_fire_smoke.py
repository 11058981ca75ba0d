"""The classical fire/smoke detector on the shared fire, smoke and people media, and an
operator-supplied model through the same evidence type."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.stills import still_clip
from edge_models.classifier import ImageClassifier
from edge_models.detector import SsdDetector
from edge_models.fire_smoke import ClassicalFireSmoke, ModelFireSmoke
from edge_models.runtime import TfliteModel, load_labels
from tests.vision.conftest import BASKETBALL, DETECT, FIRE_BASKET, LABELS, MESSI, PAN_FIRE, SMOKE, VTEST, read_frames
from tests.vision.tiny_models import write_colour_classifier

pytestmark = pytest.mark.timeout(180)


def run_clip(frames: list[np.ndarray]) -> tuple[list[bool], list[bool]]:
    det = ClassicalFireSmoke()
    fire, smoke = [], []
    for i, f in enumerate(frames):
        e = det.analyse(f, i / 10)
        fire.append(e.fire)
        smoke.append(e.smoke)
    return fire, smoke


def clip(path: Path, seed: int = 0) -> list[np.ndarray]:
    return list(still_clip(cv2.imread(str(path)), frames=30, seed=seed))


@pytest.mark.parametrize("path", [FIRE_BASKET, PAN_FIRE])
def test_fire_photos_show_fire(path: Path) -> None:
    fire, _ = run_clip(clip(path))
    assert not any(fire[:2])  # flicker needs a few frames of history
    assert sum(fire) >= 20


def test_smoke_photo_shows_smoke_and_no_fire() -> None:
    fire, smoke = run_clip(clip(SMOKE))
    assert sum(smoke) >= 15 and not any(fire)


@pytest.mark.parametrize("path", [MESSI, BASKETBALL])
def test_people_photos_show_neither(path: Path) -> None:
    fire, smoke = run_clip(clip(path, seed=3))
    assert sum(fire) <= 1 and sum(smoke) <= 1


def test_grayscale_frames_are_reported_as_monochrome() -> None:
    det = ClassicalFireSmoke()
    e = det.analyse(cv2.imread(str(BASKETBALL)), 0.0)
    assert e.monochrome and not e.fire and not e.smoke


def test_real_video_of_people_shows_no_sustained_fire_or_smoke() -> None:
    # The first 60 frames and the crowded end (brick walls, orange cones, people on grey asphalt).
    frames = read_frames(VTEST, 60) + read_frames(VTEST, 95, start=700)
    fire, smoke = run_clip(frames)
    assert sum(fire) <= 2 and sum(smoke) <= 2


def test_static_fire_coloured_things_do_not_flicker() -> None:
    # The same real frame again and again (with sensor noise): the cones and bricks stay put.
    frame = read_frames(VTEST, 1)[0]
    rng = np.random.default_rng(0)
    frames = [np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8) for _ in range(10)]
    fire, _ = run_clip(frames)
    assert not any(fire)


def test_operator_classifier_gives_the_same_evidence(tmp_path: Path) -> None:
    model = TfliteModel(write_colour_classifier(tmp_path / "colour.tflite"), threads=1)
    fs = ModelFireSmoke(ImageClassifier(model, ["fire", "other"]), ("fire",), ("smoke",), 0.6)
    red = np.full((60, 80, 3), (30, 80, 230), np.uint8)
    e = fs.analyse(red)
    assert e.fire and not e.smoke and e.source == "model" and e.fire_boxes == ((0.0, 0.0, 1.0, 1.0),)
    assert not fs.analyse(np.full((60, 80, 3), (200, 120, 40), np.uint8)).fire


def test_operator_detector_boxes_become_evidence(vtest_frames: list[np.ndarray]) -> None:
    # Plumbing only: the COCO model stands in for a fire detector whose "fire" label is "person".
    detector = SsdDetector(TfliteModel(DETECT, threads=2), load_labels(LABELS))
    fs = ModelFireSmoke(detector, ("person",), ("smoke",), 0.5)
    e = fs.analyse(vtest_frames[0])
    assert e.fire and len(e.fire_boxes) >= 1 and e.fire_score >= 0.5
    merged = ClassicalFireSmoke().analyse(vtest_frames[0], 0.0).merged(e)
    assert merged.fire and merged.source == "classical+model"
