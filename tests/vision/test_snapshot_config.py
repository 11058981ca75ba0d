"""Alarm snapshots under a size limit, and the camera section of the station file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from edge_models.snapshot import RED, annotate, encode_jpeg
from edge_models.zones import Zone
from foundation.errors import ConfigError
from gateway.config.station import load_config, parse_config
from gateway.config.vision import CameraConfig
from tests.vision.conftest import EXAMPLES, FIRE_BASKET


def test_snapshot_fits_max_bytes_by_quality_then_scale() -> None:
    image = cv2.imread(str(FIRE_BASKET))
    drawn = annotate(image, [Zone("z", ((0, 0.5), (1, 0.5), (1, 1), (0, 1)))], "z", [((0.2, 0.1, 0.6, 0.7), "fire", RED)], "cam fire")
    assert drawn.shape == image.shape and not np.array_equal(drawn, image)
    big = encode_jpeg(drawn, 10_000_000)
    assert cv2.imdecode(np.frombuffer(big, np.uint8), cv2.IMREAD_COLOR).shape == image.shape
    for limit in (60_000, 20_000, 6_000):
        data = encode_jpeg(drawn, limit, quality=90, min_quality=40)
        assert len(data) <= limit
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None
    small = cv2.imdecode(np.frombuffer(encode_jpeg(drawn, 6_000), np.uint8), cv2.IMREAD_COLOR)
    assert small.shape[1] < image.shape[1]  # had to shrink, not only lower the quality
    wide = encode_jpeg(drawn, 10_000_000, max_width=640)
    assert cv2.imdecode(np.frombuffer(wide, np.uint8), cv2.IMREAD_COLOR).shape[1] == 640


@pytest.mark.parametrize("name", ["pond-station.yaml", "forest-edge.yaml"])
def test_examples_validate(name: str) -> None:
    cfg = load_config(EXAMPLES / name)
    assert len(cfg.cameras) == 1


def test_pond_example_has_an_all_hours_lower_half_zone() -> None:
    cam = load_config(EXAMPLES / "pond-station.yaml").cameras[0]
    zone = cam.zones[0]
    assert cam.detection is not None and cam.detection.model.path.is_file()
    assert min(y for _, y in zone.polygon) == 0.5 and zone.armed.hours == ["00:00-24:00"]
    assert zone.armed.months == list(range(1, 13))


def _camera(**extra: object) -> dict:
    return {"id": "cam", "driver": {"type": "file", "path": "x.avi"}, **extra}


@pytest.mark.parametrize(
    "camera, message",
    [
        (_camera(zones=[{"id": "w", "polygon": [[0, 0], [1, 0], [1, 1]]}]), "zones need `detection`"),
        (_camera(driver={"type": "rtsp", "url": "http://x"}), "String should match pattern"),
        (_camera(driver={"type": "ftp", "url": "x"}), "does not match any of the expected tags"),
        (_camera(fire_smoke={"trigger_frames": 9, "window_frames": 4}), "must not exceed"),
        (_camera(fire_smoke={"classical": None}), "configure a model"),
        (_camera(timezone="Mars/Olympus"), "unknown time zone"),
        (_camera(colour="red"), "Extra inputs are not permitted"),
    ],
)
def test_camera_config_errors_are_named(camera: dict, message: str) -> None:
    doc = {"station": {"county": "1", "town": "t", "village": "v", "id": "s"}, "cameras": [camera]}
    with pytest.raises(ConfigError) as exc:
        parse_config(yaml.safe_dump(doc))
    assert message in str(exc.value)


def test_zone_polygon_schedule_and_window_are_checked() -> None:
    det = {"model": {"path": "m.tflite"}}
    bad = [
        {"id": "w", "polygon": [[0, 0], [1.2, 0], [1, 1]]},
        {"id": "w", "polygon": [[0, 0], [1, 0]]},
        {"id": "w", "polygon": [[0, 0], [1, 0], [1, 1]], "armed": {"hours": ["9-17"]}},
        {"id": "w", "polygon": [[0, 0], [1, 0], [1, 1]], "armed": {"months": [13]}},
        {"id": "w", "polygon": [[0, 0], [1, 0], [1, 1]], "trigger_frames": 6, "window_frames": 5},
    ]
    for zone in bad:
        with pytest.raises(ValueError):
            CameraConfig.model_validate(_camera(detection=det, zones=[zone]))
    ok = CameraConfig.model_validate(
        _camera(detection=det, timezone="Asia/Shanghai", zones=[{"id": "w", "polygon": [[0, 0], [1, 0], [1, 1]], "armed": {"hours": ["20:00-06:00", "10:00-24:00"]}}])
    )
    assert ok.tzinfo() is not None


def test_every_camera_field_is_described() -> None:
    schema = CameraConfig.model_json_schema()
    missing = [
        f"{name}.{field}"
        for name, model in [("CameraConfig", schema), *schema.get("$defs", {}).items()]
        for field, spec in model.get("properties", {}).items()
        if "description" not in spec
    ]
    assert missing == []


def test_schema_exports_driver_types(tmp_path: Path) -> None:
    mapping = CameraConfig.model_json_schema()["properties"]["driver"]["discriminator"]["mapping"]
    assert set(mapping) == {"file", "v4l2", "rtsp"}
