"""`fire_smoke.model.type: backbone` in the station file: it builds, the gateway's own frame processor
raises a fire alarm on a fire still through the real rule (N of M, snapshot), people raise nothing,
and bad settings or a wrong backbone give a clear error."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from edge_models.runtime import ModelError
from foundation.errors import ConfigError
from gateway.config.fire_model import BackboneFireModel
from gateway.config.station import load_config
from gateway.config.vision import FireModel
from gateway.vision.frame_processor import CameraProcessor
from tests.fire_clips import run_still
from tests.fire_head.conftest import backbone_model, station_file
from tests.vision.conftest import DETECT, FIRE_BASKET, MESSI

pytestmark = pytest.mark.timeout(120)


def test_station_files_may_choose_the_backbone_head() -> None:
    assert BackboneFireModel in typing.get_args(typing.get_args(FireModel)[0])


def _camera(tmp_path: Path, **settings: object):
    fire_smoke = {"classical": None, "model": backbone_model(**settings), "trigger_frames": 6, "window_frames": 10}
    return load_config(station_file(tmp_path, fire_smoke)).cameras[0]


def _run(cam, path: Path, frames: int = 12) -> tuple[list[tuple[int, object]], CameraProcessor]:
    return run_still(cam, path, "backbone", frames)


def test_backbone_settings_load_with_the_shipped_head(tmp_path: Path) -> None:
    model = _camera(tmp_path).fire_smoke.model
    assert isinstance(model, BackboneFireModel) and model.head_path is None and model.fire and not model.smoke


def test_fire_raised_after_n_of_m_frames_and_people_raise_nothing(tmp_path: Path) -> None:
    cam = _camera(tmp_path)
    signals, proc = _run(cam, FIRE_BASKET)
    fire = [(i, s) for i, s in signals if s.kind == "fire" and s.active]
    assert fire, "no fire alarm on the fire still"
    first_frame, first = fire[0]
    assert first_frame == cam.fire_smoke.trigger_frames - 1 and first.snapshot_jpeg and first.details.get("box")
    assert "fire:" + cam.id in proc.open_alarms()
    signals, proc = _run(cam, MESSI)
    assert signals == [] and proc.open_alarms() == []


def test_an_altered_backbone_refuses_to_build(tmp_path: Path) -> None:
    cam = _camera(tmp_path, backbone_sha256="0" * 64)
    with pytest.raises(ModelError, match="sha256"):
        CameraProcessor(cam)
    cam = _camera(tmp_path, backbone_path=str(tmp_path / "missing.tflite"))
    with pytest.raises(ModelError, match="not found"):
        CameraProcessor(cam)
    assert DETECT.is_file()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"fire_threshold": 1.5}, "fire_threshold"),
        ({"backbone_sha256": "abc"}, "backbone_sha256"),
        ({"max_crops": 2}, "max_crops"),  # a v1 setting: named, not silently ignored
    ],
)
def test_bad_backbone_settings_name_the_field(tmp_path: Path, settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _camera(tmp_path, **settings)


def test_the_backbone_path_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="backbone_path"):
        load_config(station_file(tmp_path, {"classical": None, "model": {"type": "backbone"}}))
