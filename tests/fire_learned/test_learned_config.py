"""`fire_smoke.model.type: learned` in the station file: defaults, clear errors, the classical
detector still chosen by config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from foundation.errors import ConfigError
from gateway.config.fire_model import LearnedFireModel
from gateway.config.station import load_config
from gateway.config.vision import ClassicalFireSmokeConfig
from tests.vision.conftest import EXAMPLES


def _station(tmp_path: Path, fire_smoke: dict) -> Path:
    doc = yaml.safe_load((EXAMPLES / "forest-edge.yaml").read_text(encoding="utf-8"))
    doc["cameras"][0]["fire_smoke"] = fire_smoke
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_learned_defaults_to_the_shipped_model(tmp_path: Path) -> None:
    fs = load_config(_station(tmp_path, {"classical": None, "model": {"type": "learned"}})).cameras[0].fire_smoke
    assert isinstance(fs.model, LearnedFireModel) and fs.model.path is None and fs.model.max_crops == 2


def test_classical_still_available(tmp_path: Path) -> None:
    fs = load_config(_station(tmp_path, {"classical": {"fire": True}})).cameras[0].fire_smoke
    assert isinstance(fs.classical, ClassicalFireSmokeConfig) and fs.model is None


@pytest.mark.parametrize(
    "model, message",
    [
        ({"type": "learned", "fire_threshold": 1.5}, "fire_threshold"),
        ({"type": "learned", "sha256": "abc"}, "sha256"),
        ({"type": "learned", "max_crops": 20}, "max_crops"),
        ({"type": "learned", "colour": "red"}, "colour"),
        ({"type": "learnt"}, "does not match any of the expected tags"),
    ],
)
def test_bad_learned_settings_name_the_field(tmp_path: Path, model: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_station(tmp_path, {"classical": None, "model": model}))
