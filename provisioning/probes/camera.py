"""Cameras: frame rate, a saved snapshot, and a look at whether the picture is usable."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from foundation.errors import GatewayError
from gateway.config.station import StationConfig
from gateway.config.vision import CameraConfig
from provisioning.frames import grab, open_camera, save_jpeg
from provisioning.probes import Say, quiet
from provisioning.results import NO_HINT, CheckResult, Status

DARK = 15.0  # mean grey level under which the picture is taken as black
FLAT = 4.0  # standard deviation under which the picture is taken as one colour (covered lens)
SLOW_FPS = 2.0


def detect_people(cfg: CameraConfig, image: np.ndarray) -> dict[str, object]:
    """Run the camera's person detector once on the snapshot, as the gateway will (model, hash, labels, head and
    the head's threshold: a swimmer or centre head scores on a scale of its own, so the SSD alone would not do)."""
    from gateway.vision.person_detector import person_detector

    d = cfg.detection
    assert d is not None
    detector = person_detector(d)
    started = time.perf_counter()
    found = detector.detect(image, min_score=d.threshold())
    people = [x for x in found if x.label in d.person_labels]
    boxes = [[round(float(v), 4) for v in x.box] + [round(float(x.score), 3)] for x in people]  # drawn on the report's snapshot
    return {"persons": len(people), "detections": len(found), "invoke_ms": round((time.perf_counter() - started) * 1000, 1), "boxes": boxes}


def probe_one(cfg: CameraConfig, frames: int, snapshot_dir: Path, say: Say = quiet) -> CheckResult:
    started = time.monotonic()
    values: dict[str, object] = {"driver": cfg.driver.type}
    try:
        camera = open_camera(cfg)
        try:
            sample = grab(camera, frames, say=lambda s: say(f"{cfg.id} {s}"))
        finally:
            camera.close()
    except (GatewayError, OSError, ValueError, RuntimeError) as exc:
        return CheckResult.of("camera", cfg.id, "fail", (f"取不到画面：{exc}", f"no frames: {exc}"), values,
                              hint=("检查摄像头的电源、网线或站点文件里的视频流地址，然后再检查一次",
                                    "check the camera's power, cable or stream URL in the station file, then check again"))
    path = save_jpeg(sample.last, snapshot_dir / f"{cfg.id}.jpg")
    grey = np.asarray(sample.last).mean(axis=2) if sample.last.ndim == 3 else np.asarray(sample.last)
    mean, std = float(grey.mean()), float(grey.std())
    values.update(frames=len(sample.frames), fps=sample.fps, width=sample.width, height=sample.height,
                  mean_grey=round(mean, 1), contrast=round(std, 1))
    size = f"{sample.width}x{sample.height}"
    zh, en = f"{len(sample.frames)} 帧，{sample.fps:.1f} 帧/秒，{size}", f"{len(sample.frames)} frames at {sample.fps:.1f} fps, {size}"
    if cfg.detection is not None:
        try:
            seen = detect_people(cfg, sample.last)
        except (GatewayError, OSError, ValueError, RuntimeError) as exc:
            values["detection_error"] = str(exc)
            install = f"stationctl model install MODEL --sha256 HEX --config FILE --camera {cfg.id}"
            return CheckResult.of("camera", cfg.id, "fail", (f"{zh}；人员检测模型运行不了：{exc}", f"{en}; the person detector cannot run: {exc}"),
                                  values, hint=(f"安装模型并核对其哈希：{install}", f"install the model with its hash: {install}"),
                                  artifacts={"snapshot": str(path)})
        values.update(seen)
        zh += f"；检测正常（画面中 {seen['persons']} 人，{seen['invoke_ms']} ms）"
        en += f"; detector ok ({seen['persons']} person(s) in view, {seen['invoke_ms']} ms)"
    if cfg.zones:
        zh, en = zh + f"；{len(cfg.zones)} 个危险区", en + f"; {len(cfg.zones)} danger zone(s)"
    status: Status = "pass"
    hint = NO_HINT
    if mean < DARK or std < FLAT:
        status, zh, en = "warn", zh + "；画面全黑或只有一种颜色", en + "; the picture is black or flat"
        hint = ("看一下快照：取下镜头盖、擦干净镜头，夜里检查红外补光灯",
                "look at the snapshot: remove the lens cap, clean the lens, or check the infrared light at night")
    elif 0 < sample.fps < SLOW_FPS:
        status, zh, en = "warn", zh + "；帧率偏低", en + "; the frame rate is low"
        hint = ("改用摄像头的子码流或降低分辨率，并检查网络", "use the camera's sub-stream or a lower resolution, and check the network link")
    return CheckResult.of("camera", cfg.id, status, (zh, en), values, hint=hint, artifacts={"snapshot": str(path)},
                          duration_s=round(time.monotonic() - started, 2))


def probe_cameras(cfg: StationConfig, frames: int, snapshot_dir: Path, say: Say = quiet) -> list[CheckResult]:
    return [probe_one(cam, frames, snapshot_dir, say) for cam in cfg.cameras]
