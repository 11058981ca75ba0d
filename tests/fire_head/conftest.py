"""The station file of the backbone-head tests: the forest-edge example with a given `fire_smoke` block."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.vision.conftest import DETECT, DETECT_SHA256, EXAMPLES

FOREST = EXAMPLES / "forest-edge.yaml"


def backbone_model(**settings: object) -> dict:
    """A `type: backbone` model block on the shared SSD (absolute path: tests run from anywhere)."""
    return {"type": "backbone", "backbone_path": str(DETECT), "backbone_sha256": DETECT_SHA256, **settings}


def station_file(tmp_path: Path, fire_smoke: dict) -> Path:
    doc = yaml.safe_load(FOREST.read_text(encoding="utf-8"))
    doc["cameras"][0]["fire_smoke"] = fire_smoke
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path
