"""`stationctl replay` with the example configs as they are, run from the project root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT
from tests.vision.conftest import BASKETBALL, FIRE_BASKET, MESSI, PAN_FIRE, SMOKE

pytestmark = pytest.mark.timeout(180)
ZH = {k: v for k, v in os.environ.items() if k != "LANG"}  # the technician's default language, whatever this machine's LANG


def replay(*args: str) -> tuple[list[dict], dict, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "replay", *args], cwd=ROOT, capture_output=True, text=True, timeout=170, env=ZH
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert "summary" in lines[-1]
    return lines[:-1], lines[-1]["summary"], proc.stderr


def test_pond_example_raises_the_person_alarm(vtest_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    events, summary, human = replay("--config", "examples/pond-station.yaml", str(vtest_clip), "--out", str(out))
    raised = [e for e in events if e["state"] == "raised"]
    assert [(e["kind"], e["source"], e["severity"]) for e in raised] == [("person_in_water_zone", "pond-cam/water", "danger")]
    assert raised[0]["details"]["count"] >= 1 and raised[0]["t"] < 2.0
    assert summary["frames"] == 60 and summary["alarms"] == {"person_in_water_zone": 1}
    assert summary["inference_ms_median"] > 0 and summary["fps"] > 0
    snapshots = sorted(out.glob("*.jpg"))
    assert len(snapshots) == len([e for e in events if "snapshot" in e]) >= 1
    assert cv2.imdecode(np.frombuffer(snapshots[0].read_bytes(), np.uint8), cv2.IMREAD_COLOR) is not None
    assert "触发告警：person_in_water_zone×1" in human and "vtest-60.avi：告警 person_in_water_zone×1" in human and "vtest" in human and "火焰最高分" not in human


def test_forest_example_on_fire_smoke_and_people_stills() -> None:
    media = [FIRE_BASKET, PAN_FIRE, SMOKE, MESSI, BASKETBALL]
    events, summary, human = replay("--config", "examples/forest-edge.yaml", "--lang", "en", *map(str, media))
    raised = {(Path(e["media"]).name, e["kind"]) for e in events if e["state"] == "raised"}
    assert ("fire-basket.jpg", "fire") in raised and ("pan-fire.jpg", "fire") in raised
    assert ("wildfire_example.jpg", "smoke") in raised and ("wildfire_example.jpg", "fire") not in raised
    assert not {m for m, _ in raised} & {"messi5.jpg", "basketball1.png"}
    assert all(e["source"] == "ridge-cam" and e["category"] == "safety" for e in events)
    assert summary["files"] == 5 and summary["frames"] == 150
    # the technician tunes a site from the peak scores, one line a file, in the chosen language
    per_file = {s["media"]: s for s in summary["per_file"]}
    smoke_line = next(line for line in human.splitlines() if line.strip().startswith("wildfire_example.jpg:"))
    assert f"smoke {per_file[str(SMOKE)]['smoke_score_max']:.2f}" in smoke_line and "alarms smoke×1" in smoke_line
    assert "messi5.jpg: no alarm; highest fire score" in human


def test_unknown_camera_and_bad_config_fail_clearly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "replay", "--config", "examples/pond-station.yaml", "--camera", "nope", str(MESSI)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=ZH,
    )
    assert proc.returncode == 1 and "错误：配置中没有摄像头 'nope'" in proc.stderr and "pond-cam" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "replay", "--lang", "en", "--config", "examples/pond-station.yaml",
         "--camera", "nope", str(MESSI)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=ZH,
    )
    assert proc.returncode == 1 and "ERROR no camera 'nope'" in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("station: {county: '1', town: t, village: v, id: s}\ncameras: [{id: c, driver: {type: file}}]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "replay", "--config", str(bad), str(MESSI)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=ZH,
    )
    assert proc.returncode == 2 and "driver" in proc.stderr and proc.stderr.startswith("配置无效：")


def test_missing_empty_and_garbled_media_are_named_without_a_traceback(tmp_path: Path) -> None:
    """A technician's typo, an empty JPEG and a file that is no video each get one clear line and exit 1."""
    empty, garbled = tmp_path / "empty.jpg", tmp_path / "garbled.mp4"
    empty.write_bytes(b"")
    garbled.write_bytes(b"not a video at all")
    for media, said in ((tmp_path / "typo.mp4", "文件不存在"), (empty, "无法读取这张图片"), (garbled, "OpenCV 打不开这个视频")):
        proc = subprocess.run(
            [sys.executable, "-m", "provisioning.cli", "replay", "--config", "examples/pond-station.yaml", str(media)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=ZH,
        )
        assert proc.returncode == 1 and f"错误：{media}：{said}" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
