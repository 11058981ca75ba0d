"""`stationctl replay`: run video files and still images through the gateway's own detection.

The frames go through the same `CameraProcessor` (pipeline, rules, snapshots) and `AlarmBook`
as in `station-gateway run`; only the source differs. Time is the media's own (frame index over
the file's frame rate), so a replay runs as fast as the CPU allows and raises what the gateway
would have raised at that pace. Events are printed as JSON lines on stdout, followed by one
summary line; a human summary goes to stderr.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import typer

from drivers.stills import is_still, still_clip
from foundation.errors import ConfigError, GatewayError
from gateway.alarms import AlarmBook, Transition
from gateway.config.station import load_config
from gateway.config.vision import CameraConfig
from gateway.vision.frame_processor import CameraProcessor
from provisioning.i18n import COLON, Pair, language, pick


def _missing(path: Path, lang: str) -> GatewayError:
    return GatewayError(pick(lang, (f"{path}：文件不存在", f"{path}: no such file")))


def read_still(path: Path, lang: str = "zh") -> np.ndarray:
    """A still image as BGR; GatewayError naming a missing or unreadable file in `lang`."""
    if not path.is_file():
        raise _missing(path, lang)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise GatewayError(pick(lang, (f"{path}：无法读取这张图片", f"{path}: not a readable image")))
    return image


def media_frames(
    path: Path, still_frames: int = 30, still_fps: float = 10.0, lang: str = "zh"
) -> tuple[float, Iterator[np.ndarray]]:
    """(frame rate, frames) of a video, or of a still image shown as a short moving clip."""
    if is_still(str(path)):
        return still_fps, still_clip(read_still(path, lang), frames=still_frames)
    if not path.is_file():
        raise _missing(path, lang)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise GatewayError(pick(lang, (f"{path}：OpenCV 打不开这个视频", f"{path}: OpenCV cannot open this video")))
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 10.0

    def frames() -> Iterator[np.ndarray]:
        try:
            while True:
                ok, image = cap.read()
                if not ok or image is None:
                    return
                yield image
        finally:
            cap.release()

    return fps, frames()


def pick_camera(cameras: list[CameraConfig], wanted: str | None, lang: str = "zh") -> CameraConfig:
    """The camera named by --camera, or the only camera with something to detect."""
    if wanted is not None:
        for cam in cameras:
            if cam.id == wanted:
                return cam
        ids = ", ".join(c.id for c in cameras)
        raise GatewayError(pick(lang, (f"配置中没有摄像头 {wanted!r}（现有摄像头：{ids or '无'}）",
                                       f"no camera {wanted!r} in the config (cameras: {ids or 'none'})")))
    useful = [c for c in cameras if c.detection is not None or c.fire_smoke is not None]
    if len(useful) == 1:
        return useful[0]
    if not useful:
        raise GatewayError(pick(lang, ("配置中没有带 detection 或 fire_smoke 设置的摄像头",
                                       "the config has no camera with detection or fire_smoke settings")))
    ids = ", ".join(c.id for c in useful)
    raise GatewayError(pick(lang, (f"有多个摄像头，请用 --camera 选一个（{ids}）", f"several cameras; choose one with --camera ({ids})")))


def _event(tr: Transition, media: Path, frame: int, t: float, snapshot: str | None) -> dict[str, Any]:
    a = tr.alarm
    out: dict[str, Any] = {
        "media": str(media), "frame": frame, "t": round(t, 3), "state": tr.state, "kind": a.kind, "source": a.source,
        "severity": a.severity, "category": a.category, "summary": a.summary if tr.state != "cleared" else tr.reason,
        "details": a.details, "event_id": a.event_id,
    }
    if tr.snapshot_jpeg is not None:
        out["snapshot_bytes"] = len(tr.snapshot_jpeg)
    if snapshot is not None:
        out["snapshot"] = snapshot
    return out


def replay_media(
    cam: CameraConfig, media: Path, out: Path | None, start_wall: float, still_frames: int = 30, lang: str = "zh"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Replay one file; return its summary and its events (also printed as they happen)."""
    processor = CameraProcessor(cam)
    book = AlarmBook(new_id=_ids(media))
    fps, frames = media_frames(media, still_frames, lang=lang)
    events: list[dict[str, Any]] = []
    infer: list[float] = []
    peak = {"fire": 0.0, "smoke": 0.0}  # best fire/smoke score over the analysed frames, for tuning a site
    analysed = n = 0
    started = time.perf_counter()
    for n, image in enumerate(frames, start=1):
        t = (n - 1) / fps
        obs, signals = processor.step(image, t, start_wall + t)
        if obs.analysed:
            analysed += 1
            infer.append(obs.infer_ms)
            if obs.fire is not None:
                peak["fire"] = max(peak["fire"], obs.fire.fire_score)
                peak["smoke"] = max(peak["smoke"], obs.fire.smoke_score)
        for signal in signals:
            for tr in book.apply(signal, t):
                saved = None
                if out is not None and tr.snapshot_jpeg is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    name = f"{media.stem}-{n - 1:05d}-{tr.alarm.kind}-{tr.state}.jpg"
                    (out / name).write_bytes(tr.snapshot_jpeg)
                    saved = str(out / name)
                ev = _event(tr, media, n - 1, t, saved)
                events.append(ev)
                typer.echo(json.dumps(ev, ensure_ascii=False))
    elapsed = time.perf_counter() - started
    raised = Counter(e["kind"] for e in events if e["state"] == "raised")
    summary = {
        "media": str(media),
        "frames": n,
        "analysed": analysed,
        "media_s": round(n / fps, 2),
        "seconds": round(elapsed, 2),
        "fps": round(n / elapsed, 1) if elapsed > 0 else None,
        "inference_ms_median": round(statistics.median(infer), 2) if infer else None,
        "alarms": dict(raised),
        "fire_score_max": round(peak["fire"], 3),
        "smoke_score_max": round(peak["smoke"], 3),
        "open_at_end": [f"{a.kind}:{a.source}" for a in book.open_alarms()],
    }
    return summary, events


def _ids(media: Path) -> Any:
    count = iter(range(1, 1_000_000))
    return lambda: f"replay-{media.stem}-{next(count)}"


def human_summary(total: dict[str, Any], fire_scores: bool, lang: str) -> str:
    """What the technician reads on stderr: one line a file (alarms, and the peak fire/smoke scores
    when the camera watches for fire, to tune thresholds), then the totals."""
    lines = []
    for s in total["per_file"]:
        alarms = ", ".join(f"{kind}×{n}" for kind, n in s["alarms"].items())
        line = f"  {Path(s['media']).name}{pick(lang, COLON)}" + pick(lang, (f"告警 {alarms}", f"alarms {alarms}") if alarms else ("无告警", "no alarm"))
        if fire_scores:
            line += pick(lang, (f"；火焰最高分 {s['fire_score_max']:.2f}，烟雾最高分 {s['smoke_score_max']:.2f}",
                                f"; highest fire score {s['fire_score_max']:.2f}, smoke {s['smoke_score_max']:.2f}"))
        lines.append(line)
    raised = ", ".join(f"{kind}×{n}" for kind, n in total["alarms"].items()) or pick(lang, ("无", "none"))
    head: Pair = (
        f"回放 {total['files']} 个文件，共 {total['frames']} 帧（分析 {total['analysed']} 帧），每秒 {total['fps']} 帧，"
        f"推理中位数 {total['inference_ms_median']} 毫秒；触发告警：{raised}",
        f"replayed {total['files']} file(s), {total['frames']} frames ({total['analysed']} analysed) at {total['fps']} fps, "
        f"inference median {total['inference_ms_median']} ms; alarms raised: {raised}",
    )
    return "\n".join([pick(lang, head), *lines])


def replay_command(
    media: list[Path] = typer.Argument(..., help="Video files and still images to run through the detection."),
    config: Path = typer.Option(..., "--config", help="Station file whose camera settings (models, zones, rules) are used."),
    camera: str | None = typer.Option(None, "--camera", help="Camera id in the config (default: the only one with detection)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the annotated frame of every alarm event."),
    start: str | None = typer.Option(None, "--start", help="Wall time at the start of the media, ISO 8601, for zone schedules (default: now)."),
    still_frames: int = typer.Option(30, "--still-frames", min=1, help="Frames a still image is shown for (at 10 fps)."),
    lang: str | None = typer.Option(None, "--lang", help="Language of the summary on stderr: zh (default) or en; default from LANG."),
) -> None:
    """Run media through exactly the gateway's detection and rules; print the events as JSON lines."""
    lg = language(lang)
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"{pick(lg, ('配置无效：', 'INVALID '))}{exc}", err=True)
        raise typer.Exit(2) from None
    try:
        cam = pick_camera(cfg.cameras, camera, lg)
        start_wall = datetime.fromisoformat(start).timestamp() if start else time.time()
        summaries = []
        for path in media:
            summary, _ = replay_media(cam, path, out, start_wall, still_frames, lg)
            summaries.append(summary)
    except (GatewayError, ValueError) as exc:
        typer.echo(f"{pick(lg, ('错误：', 'ERROR '))}{exc}", err=True)
        raise typer.Exit(1) from None
    frames = sum(s["frames"] for s in summaries)
    seconds = sum(s["seconds"] for s in summaries)
    medians = [s["inference_ms_median"] for s in summaries if s["inference_ms_median"] is not None]
    alarms: Counter[str] = Counter()
    for s in summaries:
        alarms.update(s["alarms"])
    total = {
        "camera": cam.id,
        "files": len(summaries),
        "frames": frames,
        "analysed": sum(s["analysed"] for s in summaries),
        "fps": round(frames / seconds, 1) if seconds > 0 else None,
        "inference_ms_median": round(statistics.median(medians), 2) if medians else None,
        "alarms": dict(alarms),
        "per_file": summaries,
    }
    typer.echo(json.dumps({"summary": total}, ensure_ascii=False))
    print(human_summary(total, cam.fire_smoke is not None, lg), file=sys.stderr)
