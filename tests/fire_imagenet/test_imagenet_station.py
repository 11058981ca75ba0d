"""`fire_smoke.model.type: imagenet` in the station file (the forest-edge example's choice): it
builds with the shipped files, the gateway's own frame processor raises fire through the real rule
(N of M, snapshot, box), people raise nothing, and bad settings or altered files give a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_models.fire_head import SHIPPED_HEADS
from edge_models.runtime import ModelError
from foundation.errors import ConfigError
from gateway.config.fire_model import FIRE_V3, SMOKE_V3, ImagenetFireModel
from gateway.config.station import load_config
from gateway.vision.frame_processor import CameraProcessor
from tests.fire_clips import run_still
from tests.fire_head.conftest import FOREST, station_file
from tests.vision.conftest import FIRE_BASKET, MESSI

pytestmark = pytest.mark.timeout(120)


def _camera(tmp_path: Path, **settings: object):
    fire_smoke = {"classical": None, "model": {"type": "imagenet", **settings}, "trigger_frames": 6, "window_frames": 10}
    return load_config(station_file(tmp_path, fire_smoke)).cameras[0]


def test_the_forest_example_runs_v3_for_fire_and_smoke_with_the_classical_smoke_cue() -> None:
    fs = load_config(FOREST).cameras[0].fire_smoke
    assert fs is not None and isinstance(fs.model, ImagenetFireModel)
    assert fs.model.backbone_path is None and fs.model.head_path is None and fs.model.fire and fs.model.smoke
    assert fs.model.backbone_sha256 and fs.model.head_sha256  # pinned
    assert fs.classical is not None and not fs.classical.fire and fs.classical.smoke


def test_defaults_are_the_shipped_heads_thresholds(tmp_path: Path) -> None:
    model = _camera(tmp_path).fire_smoke.model
    shipped = SHIPPED_HEADS["effnet-10x10"]
    assert (model.fire_threshold, model.smoke_threshold) == (FIRE_V3, SMOKE_V3) == (shipped.fire_threshold, shipped.smoke_threshold)


def test_fire_raised_after_n_of_m_frames_and_people_raise_nothing(tmp_path: Path) -> None:
    cam = _camera(tmp_path)
    signals, proc = run_still(cam, FIRE_BASKET, "imagenet")
    fire = [(i, s) for i, s in signals if s.kind == "fire" and s.active]
    assert fire, "no fire alarm on the fire still"
    first_frame, first = fire[0]
    assert first_frame == cam.fire_smoke.trigger_frames - 1 and first.snapshot_jpeg and first.details.get("box")
    assert "fire:" + cam.id in proc.open_alarms()
    signals, proc = run_still(cam, MESSI, "imagenet")
    assert signals == [] and proc.open_alarms() == []


def test_altered_files_refuse_to_build(tmp_path: Path) -> None:
    for pin in ("backbone_sha256", "head_sha256"):
        cam = _camera(tmp_path, **{pin: "0" * 64})
        with pytest.raises(ModelError, match="sha256"):
            CameraProcessor(cam)
    cam = _camera(tmp_path, backbone_path=str(tmp_path / "missing.tflite"))
    with pytest.raises(ModelError, match="not found"):
        CameraProcessor(cam)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"fire_threshold": 1.5}, "fire_threshold"),
        ({"head_sha256": "abc"}, "head_sha256"),
        ({"max_crops": 2}, "max_crops"),  # a v1 setting: named, not silently ignored
    ],
)
def test_bad_settings_name_the_field(tmp_path: Path, settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _camera(tmp_path, **settings)
