"""The shipped v1 fire/smoke verifier: it loads, it is the file its pin names, and it scores the
shared stills as a technician would expect (real model, real photos)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.stills import still_clip
from edge_models.fire_learned import SHIPPED_MODEL, LearnedFireSmoke, shipped_sha256
from edge_models.runtime import ModelError, TfliteModel
from gateway.config.fire_model import LearnedFireModel
from tests.fire_learned.conftest import v1_camera
from tests.vision.conftest import BASKETBALL, DETECT, FIRE_BASKET, MESSI, PAN_FIRE, SMOKE


def _model_cfg() -> LearnedFireModel:
    fs = v1_camera().fire_smoke
    assert fs is not None and isinstance(fs.model, LearnedFireModel)
    return fs.model


def test_the_pin_names_the_shipped_model() -> None:
    cfg = _model_cfg()
    assert SHIPPED_MODEL.is_file() and SHIPPED_MODEL.stat().st_size < 4_000_000
    assert cfg.sha256 == shipped_sha256()
    det = LearnedFireSmoke.load(**cfg.runtime_settings())
    assert det.model.input_size == (96, 96)


@pytest.mark.parametrize("path", [FIRE_BASKET, PAN_FIRE])
def test_fire_stills_score_as_fire(path: Path) -> None:
    cfg = _model_cfg()
    ev = LearnedFireSmoke.load(**cfg.runtime_settings()).analyse(cv2.imread(str(path)))
    assert ev.fire and ev.fire_score >= cfg.fire_threshold
    assert ev.fire_boxes and ev.source == "learned"


def test_smoke_still_is_not_fire() -> None:
    """The wildfire plume is not flames. (The model's smoke output misses it: a known failure in
    MODEL_CARD.md; the classical smoke cue covers it, tested in test_learned_rule.)"""
    cfg = _model_cfg()
    ev = LearnedFireSmoke.load(**cfg.runtime_settings()).analyse(cv2.imread(str(SMOKE)))
    assert not ev.fire and ev.fire_score < cfg.fire_threshold


@pytest.mark.parametrize("path", [MESSI, BASKETBALL])
def test_people_stills_score_as_neither(path: Path) -> None:
    """Scored as the example runs it (fire only), over a moving clip: at most a stray frame."""
    cfg = _model_cfg()
    det = LearnedFireSmoke.load(**cfg.runtime_settings())
    verdicts = [det.analyse(frame) for frame in still_clip(cv2.imread(str(path)), frames=20)]
    assert sum(ev.fire for ev in verdicts) <= 2 and not any(ev.smoke for ev in verdicts)


def test_few_invokes_per_frame() -> None:
    det = LearnedFireSmoke.load(max_crops=2)
    det.analyse(cv2.imread(str(FIRE_BASKET)))
    assert 1 <= len(det.last_views) <= 3
    assert det.last_views[0].box == (0.0, 0.0, 1.0, 1.0)


def test_an_altered_or_wrong_model_is_refused(tmp_path: Path) -> None:
    altered = tmp_path / "fire.tflite"
    shutil.copy(SHIPPED_MODEL, altered)
    with altered.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="sha256"):
        LearnedFireSmoke.load(altered, sha256=shipped_sha256())
    with pytest.raises(ModelError, match="not found"):
        LearnedFireSmoke.load(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="2 scores"):
        LearnedFireSmoke(TfliteModel(DETECT))  # the person detector is not a fire/smoke verifier


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 3, 3), (10, 4000, 3), (1080, 1920, 3)])
def test_odd_frame_sizes_give_evidence_not_a_crash(shape: tuple[int, int, int]) -> None:
    det = LearnedFireSmoke.load()
    for frame in (np.full(shape, 200, np.uint8), np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)):
        ev = det.analyse(frame)
        assert 0.0 <= ev.fire_score <= 1.0 and not ev.fire
