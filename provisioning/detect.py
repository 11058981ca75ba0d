"""`stationctl detect`: what the station's own detection finds in images and videos, to tune a site.

The frames go through the camera's `VisionPipeline` built by `gateway.vision.frame_processor`
(motion gate, regions, tiles, merging), as in the gateway and in `stationctl replay`; only the
people the detector finds are printed, without tracks or rules. A still image is shown to the
pipeline until every tile has been visited once (a budget smaller than the tiles spreads them
over a few frames, as on site), so its result is what the camera sees of that picture.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import typer
from rich.table import Table

from drivers.stills import is_still
from edge_models.pipeline import Observation, VisionPipeline
from edge_models.snapshot import GREEN, annotate
from foundation.errors import GatewayError
from gateway.config.station import load_config
from gateway.config.vision import CameraConfig
from gateway.vision.frame_processor import build_pipeline, region_planner, zones_of
from provisioning.i18n import language, pick
from provisioning.replay import media_frames, pick_camera, read_still
from provisioning.ui import handled, make_console

HEADERS = {
    "zh": ("文件", "帧", "人数", "最高分", "人框（像素 x1,y1,x2,y2）", "火", "烟"),
    "en": ("media", "frame", "people", "best score", "boxes (pixels x1,y1,x2,y2)", "fire", "smoke"),
}


def region_load(cam: CameraConfig, width: int, height: int, lang: str) -> str | None:
    """How often the camera's regions are run, for a frame of this size (tiles mode only): with a far
    band there can be many more regions than the budget, and a still region (a person floating
    still) is then seen again only every so many analysed frames; the technician must know it."""
    if cam.detection is None or cam.detection.regions.mode != "tiles":
        return None
    planner = region_planner(cam, cam.detection)
    s = planner.settings
    count = len(planner.layout(width, height))
    far = sum(1 for r in planner.regions if r.far)
    every = math.ceil(count / s.overdue_share)  # while tiles move, only that share revisits still ones
    zh = f"区域：{width}x{height} 的画面共 {count} 个（远区 {far} 个），每帧最多推理 {s.max_invokes} 次；有人活动时，静止的区域最久每 {every} 个分析帧才再看一次"
    en = f"regions: {count} in a {width}x{height} frame ({far} in the far band), at most {s.max_invokes} invokes a frame; while tiles move, a still region is seen again at worst every {every} analysed frames"
    if every > 10:
        zh += "。要看得更勤：提高 regions.max_invokes，或减小 far_band / 增大 tile_size"
        en += ". To look more often: raise regions.max_invokes, or lower far_band / raise tile_size"
    return zh if lang == "zh" else en


def still_observation(pipeline: VisionPipeline, cam: CameraConfig, image: np.ndarray) -> Observation:
    """The pipeline's view of a still image once every region has been visited."""
    regions = pipeline.regions
    passes = 1
    step = cam.motion.force_every_s
    if regions is not None:
        h, w = image.shape[:2]
        count = len(regions.planner.layout(w, h))
        passes = math.ceil(count / regions.planner.settings.max_invokes) if regions.planner.settings.mode == "tiles" else 1
        step = max(step, regions.planner.settings.revisit_s)
    obs = pipeline.process(image, 0.0)
    for k in range(1, passes):
        obs = pipeline.process(image, k * step * 1.001)
    return obs


def observations(cam: CameraConfig, media: Path, lang: str = "zh") -> Iterator[tuple[int | None, np.ndarray, Observation]]:
    """(frame index or None for an image, image, observation) of each analysed frame; bad media fail before the model loads."""
    if is_still(str(media)):
        image = read_still(media, lang)
        yield None, image, still_observation(build_pipeline(cam), cam, image)
        return
    fps, frames = media_frames(media, lang=lang)
    pipeline = build_pipeline(cam)
    for n, image in enumerate(frames):
        obs = pipeline.process(image, n / fps)
        if obs.analysed:
            yield n, image, obs


def record(media: Path, frame: int | None, obs: Observation) -> dict[str, Any]:
    out: dict[str, Any] = {"media": str(media)}
    if frame is not None:
        out["frame"] = frame
    out["detections"] = [
        {"box": [round(v, 4) for v in d.box], "score": round(d.score, 3), "label": d.label} for d in obs.people
    ]
    if obs.fire is not None:
        out["fire_score"], out["smoke_score"] = round(obs.fire.fire_score, 3), round(obs.fire.smoke_score, 3)
        out["fire"], out["smoke"] = obs.fire.fire, obs.fire.smoke
    return out


def _score(obs: Observation, kind: str) -> str:
    """A fire or smoke score with a mark when it counts (the technician tunes thresholds on these)."""
    if obs.fire is None:
        return "-"
    score, seen = (obs.fire.fire_score, obs.fire.fire) if kind == "fire" else (obs.fire.smoke_score, obs.fire.smoke)
    return f"{score:.2f}{' *' if seen else ''}"


def _pixels(obs: Observation) -> str:
    return " ".join(
        f"[{int(d.box[0] * obs.width)},{int(d.box[1] * obs.height)},{int(d.box[2] * obs.width)},{int(d.box[3] * obs.height)}]"
        for d in obs.people
    )


def detect_command(
    media: list[Path] = typer.Argument(..., help="Images and videos to run through the camera's detection."),
    config: Path = typer.Option(..., "--config", help="Station file whose camera detection settings (regions included) are used."),
    camera: str | None = typer.Option(None, "--camera", help="Camera id in the config (default: the only one with detection)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per image (per analysed frame of a video)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for annotated frames."),
    lang: str | None = typer.Option(None, "--lang", help="Table language: zh (default) or en; default from LANG."),
) -> None:
    """Print the people the station's own detection finds in images and videos."""
    console, lg = make_console(stderr=as_json), language(lang)
    with handled(console, config, lg):
        cfg = load_config(config)
        cam = pick_camera(cfg.cameras, camera, lg)
        if cam.detection is None and cam.fire_smoke is None:
            raise GatewayError(pick(lg, (f"摄像头 {cam.id!r} 没有 `detection` 或 `fire_smoke` 设置",
                                         f"camera {cam.id!r} has no `detection` or `fire_smoke` settings")))
        table = Table(*HEADERS[lg])
        load: str | None = None
        for path in media:
            for frame, image, obs in observations(cam, path, lg):
                if load is None:
                    load = region_load(cam, obs.width, obs.height, lg) or ""
                if as_json:
                    typer.echo(json.dumps(record(path, frame, obs), ensure_ascii=False))
                else:
                    best = f"{obs.people[0].score:.2f}" if obs.people else "-"
                    table.add_row(
                        str(path), "-" if frame is None else str(frame), str(len(obs.people)), best, _pixels(obs),
                        _score(obs, "fire"), _score(obs, "smoke"),
                    )
                if out is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    boxes = [(d.box, f"{d.label} {d.score:.2f}", GREEN) for d in obs.people]
                    drawn = annotate(image, zones_of(cam), None, boxes, f"{cam.id} {path.name} {len(obs.people)}")
                    name = f"{path.stem}.jpg" if frame is None else f"{path.stem}-{frame:05d}.jpg"
                    cv2.imwrite(str(out / name), drawn)
        if not as_json:
            console.print(table)
            if load:
                console.print(load, soft_wrap=True)

