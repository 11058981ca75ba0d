"""The classical smoke cue verified by the model (`fire_smoke.classical_smoke_min_model_score`):
the cue's smoke counts only in frames where the model scores smoke at least that high; the
model's own smoke and either source's fire are untouched; bad combinations are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_models.fire_evidence import FireSmokeEvidence
from foundation.errors import ConfigError
from gateway.config.station import load_config
from gateway.rules.vision_fire import FireSettings, FireState, vision_fire_step
from tests.fire_head.conftest import station_file

CUE = FireSmokeEvidence(smoke=True, smoke_boxes=((0.2, 0.1, 0.6, 0.4),), smoke_area=0.12, smoke_score=0.5)


def _model(smoke_score: float, smoke: bool = False, fire: bool = False) -> FireSmokeEvidence:
    boxes = ((0.5, 0.5, 0.6, 0.6),)
    return FireSmokeEvidence(
        fire=fire, smoke=smoke, fire_boxes=boxes if fire else (), smoke_boxes=boxes if smoke else (),
        smoke_score=smoke_score, fire_score=0.9 if fire else 0.1, source="imagenet",
    )


def test_the_cue_counts_where_the_model_agrees_enough() -> None:
    ev = CUE.merged(_model(0.22), smoke_min_score=0.2)
    assert ev.smoke and ev.smoke_boxes == CUE.smoke_boxes and ev.smoke_area == 0.12


def test_the_cue_alone_is_dropped_where_the_model_sees_no_smoke() -> None:
    ev = CUE.merged(_model(0.05), smoke_min_score=0.2)
    assert not ev.smoke and ev.smoke_boxes == () and ev.smoke_area == 0.0
    assert CUE.merged(_model(0.05)).smoke  # without verification either one suffices, as before


def test_the_models_own_smoke_and_fire_are_untouched() -> None:
    ev = CUE.merged(_model(0.6, smoke=True, fire=True), smoke_min_score=0.99)
    assert ev.smoke and ev.smoke_boxes == ((0.5, 0.5, 0.6, 0.6),) and ev.fire


def test_a_cloud_the_model_rejects_never_raises_smoke_through_the_rule() -> None:
    settings, state = FireSettings("ridge-cam", trigger_frames=3, window_frames=5), FireState()
    raised = []
    for n in range(10):
        state, signals = vision_fire_step(settings, state, CUE.merged(_model(0.05), 0.2), n * 0.2)
        raised += [s for s in signals if s.active]
    assert raised == []
    for n in range(10, 20):
        state, signals = vision_fire_step(settings, state, CUE.merged(_model(0.3), 0.2), n * 0.2)
        raised += [s for s in signals if s.active]
    assert [s.kind for s in raised][:1] == ["smoke"]


@pytest.mark.parametrize(
    "fire_smoke, message",
    [
        ({"classical": None, "model": {"type": "imagenet"}, "classical_smoke_min_model_score": 0.2}, "classical smoke cue"),
        ({"classical": {"fire": False, "smoke": True}, "model": {"type": "imagenet", "smoke": False},
          "classical_smoke_min_model_score": 0.2}, "scores smoke"),
        ({"classical": {"fire": False, "smoke": True}, "classical_smoke_min_model_score": 0.2,
          "model": {"type": "classifier", "model": {"path": "fire.tflite"}, "smoke_labels": []}}, "scores smoke"),
        ({"classical": {"fire": False, "smoke": True}, "model": {"type": "imagenet"}, "classical_smoke_min_model_score": 1.5},
         "classical_smoke_min_model_score"),
    ],
)
def test_bad_combinations_are_named(tmp_path: Path, fire_smoke: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(station_file(tmp_path, fire_smoke))
