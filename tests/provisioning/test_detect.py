"""`stationctl detect`: what the station's own detection finds, as JSON lines or a table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from tests.conftest import MEDIA, ROOT
from tests.provisioning.conftest import stationctl

pytestmark = pytest.mark.timeout(300)

MESSI = MEDIA / "people" / "messi5.jpg"
VTEST = MEDIA / "people" / "vtest.avi"


def pond_config(tmp: Path, mode: str) -> Path:
    """The pond example with the water zone in the lower 40% and the given region mode."""
    doc = yaml.safe_load((ROOT / "examples" / "pond-station.yaml").read_text(encoding="utf-8"))
    cam = doc["cameras"][0]
    cam["detection"]["regions"] = {"mode": mode, "tile_size": 320, "max_invokes": 8}
    cam["zones"][0]["polygon"] = [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]
    cam["zones"][0]["min_box_area"] = 0.0
    path = tmp / f"pond-{mode}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def far_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1080p MJPG clip: vtest.avi's walkers at 0.3 (about 20-35 px tall) in the water of the empty plaza."""
    cap = cv2.VideoCapture(str(VTEST))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    plaza = cv2.resize(np.median(np.stack(frames[::60]), axis=0).astype(np.uint8), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    path = tmp_path_factory.mktemp("media") / "far-swimmers.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (1920, 1080))
    assert writer.isOpened()
    for f in frames[:8]:
        small = cv2.resize(f, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
        frame = plaza.copy()
        frame[820:820 + small.shape[0], 1000:1000 + small.shape[1]] = small
        writer.write(frame)
    writer.release()
    return path


def detect_json(*args: str) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "detect", "--json", *args], cwd=ROOT, capture_output=True, text=True, timeout=280
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_json_line_for_an_image(tmp_path: Path) -> None:
    media = str(MESSI.relative_to(ROOT.parent).as_posix())
    [line] = detect_json("--config", str(pond_config(tmp_path, "tiles")), f"../{media}")
    assert set(line) == {"media", "detections"} and line["media"] == f"../{media}"
    assert line["detections"], "messi5.jpg shows people"
    for d in line["detections"]:
        assert set(d) == {"box", "score", "label"} and d["label"] == "person" and 0.5 <= d["score"] <= 1
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1


def test_far_swimmers_in_a_video_are_found_with_tiles_not_full(tmp_path: Path, far_clip: Path) -> None:
    out = tmp_path / "frames"
    tiles = detect_json("--config", str(pond_config(tmp_path, "tiles")), "--out", str(out), str(far_clip))
    full = detect_json("--config", str(pond_config(tmp_path, "full")), str(far_clip))
    assert [line["frame"] for line in tiles] == list(range(8)) and all(line["media"] == str(far_clip) for line in tiles)

    def small_people(line: dict) -> int:
        return sum(1 for d in line["detections"] if (d["box"][3] - d["box"][1]) * 1080 <= 50 and d["box"][1] > 0.7)

    assert max(small_people(line) for line in full) == 0
    assert min(small_people(line) for line in tiles[3:]) >= 2
    assert len(list(out.glob("far-swimmers-*.jpg"))) == 8


def test_table_in_chinese_by_default_and_english_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = pond_config(tmp_path, "zones")
    monkeypatch.delenv("LANG", raising=False)
    monkeypatch.chdir(ROOT)
    zh = stationctl("detect", "--config", cfg, MESSI)
    assert zh.exit_code == 0 and "人数" in zh.output and "最高分" in zh.output
    en = stationctl("detect", "--config", cfg, "--lang", "en", MESSI)
    assert en.exit_code == 0 and "people" in en.output and "人数" not in en.output
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert "best score" in stationctl("detect", "--config", cfg, MESSI).output


def test_a_camera_without_detection_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("LANG", raising=False)
    result = stationctl("detect", "--config", pond_config(tmp_path, "tiles"), "--camera", "nope", MESSI)
    assert result.exit_code == 1 and "配置中没有摄像头 'nope'" in result.output
    english = stationctl("detect", "--config", pond_config(tmp_path, "tiles"), "--lang", "en", "--camera", "nope", MESSI)
    assert english.exit_code == 1 and "no camera 'nope'" in english.output


def test_the_table_tells_how_often_a_still_region_is_seen_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, far_clip: Path) -> None:
    """A far band adds a hundred regions; the technician is told the revisit it costs and what to raise."""
    monkeypatch.delenv("LANG", raising=False)
    monkeypatch.chdir(ROOT)
    plain = stationctl("detect", "--config", pond_config(tmp_path, "tiles"), str(far_clip))
    assert plain.exit_code == 0 and "1920x1080" in plain.output and "远区 0 个" in plain.output
    assert "max_invokes" not in plain.output  # 320 px tiles over the lower 40 %: a few regions, seen often
    doc = yaml.safe_load(pond_config(tmp_path, "tiles").read_text(encoding="utf-8"))
    doc["cameras"][0]["detection"]["regions"]["far_band"] = 0.5
    band = tmp_path / "band.yaml"
    band.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    zh = stationctl("detect", "--config", band, str(far_clip))
    far = int(zh.output.split("远区 ")[1].split(" ")[0])
    assert zh.exit_code == 0 and far > 50 and "提高 regions.max_invokes" in zh.output
    en = stationctl("detect", "--config", band, "--lang", "en", str(far_clip))
    assert f"({far} in the far band)" in en.output and "raise regions.max_invokes" in en.output
    assert "regions:" not in stationctl("detect", "--config", pond_config(tmp_path, "zones"), "--lang", "en", str(far_clip)).output
