"""The v1 verifier as the forest-edge example ran it before v3 became the default: the example's
camera (classical smoke cue kept) with the v1 model block in place of the example's model."""

from __future__ import annotations

import yaml

from gateway.config.station import parse_config
from gateway.config.vision import CameraConfig
from tests.vision.conftest import EXAMPLES

V1_MODEL = {
    "type": "learned", "sha256": "01b63fb9ed9cc2f48b3ef77269c0cbe9b3fd40f0729b8412b3de28edd53875b6",
    "threads": 1, "fire_threshold": 0.89, "smoke": False, "max_crops": 2,
}


def v1_camera() -> CameraConfig:
    doc = yaml.safe_load((EXAMPLES / "forest-edge.yaml").read_text(encoding="utf-8"))
    doc["cameras"][0]["fire_smoke"]["model"] = dict(V1_MODEL)
    doc["cameras"][0]["fire_smoke"].pop("classical_smoke_min_model_score", None)  # v1 scores no smoke: the cue alone, as v1 ran
    return parse_config(yaml.safe_dump(doc, allow_unicode=True)).cameras[0]
