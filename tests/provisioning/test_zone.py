"""`stationctl zone`: a danger zone from normalized corners, drawn on a real frame and written
into the station file where the vision config keeps zones; in Chinese unless `--lang en`."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from pydantic import BaseModel

from gateway.config.station import load_config
from provisioning.station_file import StationFile
from provisioning.zone import parse_points, put_zone, zone_entry
from provisioning.zone_config import find_layout, zone_list, zones_of
from provisioning.zone_draw import to_pixels
from tests.provisioning.conftest import SSD, SSD_SHA256, bare_camera_station, stationctl
from tests.stations import write_station

POINTS = "0.05,0.55 0.6,0.45 0.95,0.7 0.9,0.98 0.1,0.98"


def test_model_then_zone_sets_a_danger_zone_drawn_on_a_live_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    config = write_station(tmp_path / "station.yaml", bare_camera_station(tmp_path, 1883))
    png = tmp_path / "out" / "zone.png"

    no_detector = stationctl("zone", "cam-1", "--config", config, "--points", POINTS, "--name", "pond-edge", "--png", png)
    assert no_detector.exit_code == 2 and "stationctl model install" in no_detector.output
    assert png.exists()  # the drawing is there to check even when the file cannot take the zone yet

    model = stationctl("model", "install", SSD / "detect.tflite", "--sha256", SSD_SHA256, "--labels", SSD / "labelmap.txt",
                       "--dest", tmp_path / "models", "--config", config, "--camera", "cam-1")
    assert model.exit_code == 0, model.output
    detection = load_config(config).cameras[0].detection
    assert detection is not None and detection.model.path == tmp_path / "models" / "detect.tflite"
    assert detection.model.sha256 == SSD_SHA256 and detection.model.labels == tmp_path / "models" / "labelmap.txt"

    result = stationctl("zone", "cam-1", "--config", config, "--points", POINTS, "--name", "pond-edge", "--png", png)
    assert result.exit_code == 0, result.output
    assert "已添加" in result.output and "摄像头 cam-1 的区域 'pond-edge'" in result.output and "下一步" in result.output
    polygon = parse_points(POINTS)
    cam = load_config(config).cameras[0]
    layout = find_layout()
    assert layout is not None and zones_of(cam, layout) == [("pond-edge", polygon)]
    assert "polygon: [[0.05, 0.55], [0.6, 0.45], [0.95, 0.7], [0.9, 0.98], [0.1, 0.98]]" in config.read_text(encoding="utf-8")

    image = cv2.imread(str(png))
    assert image is not None and image.shape == (576, 768, 3)
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [to_pixels(polygon, 768, 576)], 255)
    inside = image[mask == 255].astype(float).mean(axis=0)  # BGR
    outside = image[mask == 0].astype(float).mean(axis=0)
    assert inside[2] - inside[1] > 40, f"the zone should be tinted red: {inside}"
    assert abs(outside[2] - outside[1]) < 25, f"outside the zone the frame is untouched: {outside}"

    # the same name replaces the zone; another name adds one
    moved = stationctl("zone", "cam-1", "--config", config, "--points", "0.1,0.6 0.9,0.6 0.9,1 0.1,1", "--name", "pond-edge", "--png", png)
    weir = stationctl("zone", "cam-1", "--config", config, "--points", "0.7,0.1 0.95,0.1 0.95,0.3", "--name", "weir", "--png", png, "--lang", "en")
    assert moved.exit_code == 0 and weir.exit_code == 0
    assert "已替换" in moved.output
    assert "added zone 'weir' of camera cam-1" in weir.output and "next:" in weir.output
    zones = zones_of(load_config(config).cameras[0], layout)
    assert [z[0] for z in zones] == ["pond-edge", "weir"] and zones[0][1][0] == (0.1, 0.6)


def test_zone_dry_run_and_bad_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    config = write_station(tmp_path / "station.yaml", bare_camera_station(tmp_path, 1883))
    before = config.read_text(encoding="utf-8")
    png = tmp_path / "zone.png"
    dry = stationctl("zone", "cam-1", "--config", config, "--points", "0.1,0.1 0.9,0.1 0.5,0.9", "--png", png, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert png.exists() and config.read_text(encoding="utf-8") == before
    assert "已写入" in dry.output and "用红色画出" in dry.output and "试运行" in dry.output and "站点文件未改动" in dry.output
    dry_en = stationctl("zone", "cam-1", "--config", config, "--points", "0.1,0.1 0.9,0.1 0.5,0.9", "--png", png, "--dry-run", "--lang", "en")
    assert dry_en.exit_code == 0 and "drawn in red" in dry_en.output and "dry run:" in dry_en.output and "试运行" not in dry_en.output
    for bad, why in (("0.1,0.1 0.9,0.1", "at least 3"), ("0.1,0.1 0.9,0.1 640,480", "outside the frame"),
                     ("0.1,0.1 0.9 0.5,0.9", "not x,y"), ("0.1,0.1 0.5,0.5 0.9,0.9", "no area")):
        result = stationctl("zone", "cam-1", "--config", config, "--points", bad, "--png", png, "--lang", "en")
        assert result.exit_code == 2 and why in result.output, result.output
    too_few = stationctl("zone", "cam-1", "--config", config, "--points", "0.1,0.1 0.9,0.1", "--png", png)
    assert too_few.exit_code == 2 and "至少要 3 个角点" in too_few.output and "原点在左上角" in too_few.output
    unknown = stationctl("zone", "cam-9", "--config", config, "--points", POINTS, "--png", png)
    assert unknown.exit_code == 2 and "cameras 里没有 id 为 'cam-9' 的条目（现有：cam-1）" in unknown.output and "错误：" in unknown.output
    unknown_en = stationctl("zone", "cam-9", "--config", config, "--points", POINTS, "--png", png, "--lang", "en")
    assert unknown_en.exit_code == 2 and "no cameras entry with id 'cam-9' (known: cam-1)" in unknown_en.output


class Zone(BaseModel):
    id: str
    polygon: list[tuple[float, float]]
    min_score: float = 0.5


class Detection(BaseModel):
    zones: list[Zone] = []


class Camera(BaseModel):
    id: str
    detection: Detection | None = None


def test_zone_layout_follows_the_vision_model_and_keeps_the_file(tmp_path: Path) -> None:
    """The writer against a stand-in of the vision config: zones nested in a sub-section."""
    layout = find_layout(Camera)
    assert layout is not None and layout.path == ("detection", "zones") and layout.name_field == "id"
    path = tmp_path / "station.yaml"
    text = yaml.safe_dump(bare_camera_station(tmp_path, 1883), allow_unicode=True, sort_keys=False)
    path.write_text("# pond station\n" + text, encoding="utf-8")
    station_file = StationFile(path)
    entry = station_file.item("cameras", "cam-1")
    zones = zone_list(entry, layout, create=True)
    assert zones is not None
    assert put_zone(zones, layout, zone_entry(layout, "pond-edge", [(0.1, 0.5), (0.9, 0.5), (0.9, 1.0)])) == "added"
    assert put_zone(zones, layout, zone_entry(layout, "pond-edge", [(0.2, 0.5), (0.9, 0.5), (0.9, 1.0)])) == "replaced"
    out = station_file.dump()
    assert out.startswith("# pond station\n")
    assert "polygon: [[0.2, 0.5], [0.9, 0.5], [0.9, 1.0]]" in out
    cam = Camera.model_validate({k: v for k, v in yaml.safe_load(out)["cameras"][0].items() if k in ("id", "detection")})
    assert zones_of(cam, layout) == [("pond-edge", [(0.2, 0.5), (0.9, 0.5), (0.9, 1.0)])]
