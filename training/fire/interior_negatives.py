"""Experiment: lamp-lit rooms from CC0 panoramas as fire negatives (issue 16).

Why: with cair never seen, 57 of v3's 65 false alarms there are rooms lit by warm lamps
(MODEL_CARD_v3.md); 600 room photos under research-only terms cut the false alarms from 12 % to
6 % (stop 27), synthetic lamps painted on outdoor photos made things worse (stop 31), and no
licence-clean set of room photos was reachable. Poly Haven's and ambientCG's HDRIs are: CC0
panoramas of real rooms, lit by their real lamps. Each panorama gives VIEWS ordinary photos
(a random heading, slightly up or down, 60-90 degrees wide) exposed as a camera would (the median
to a mid-grey, bright lamps clipped white). Scenes are split train/val by name; the thresholds are
chosen without them (`--threshold-without interiors-cc0`), and cair is measured once.

    python -m training.fire.interior_negatives --panoramas /work/data/interiors/hdri make
    cp /work/data/fire/features/effnet_lite0_320_int8.tflite /work/data/fire-int/features/   # the shipped backbone
    python -m training.fire.interior_negatives features --layer e10
    python -m training.fire.interior_negatives train_head --layer effnet-10x10 --variant cair-heldout --epochs 10 \
        --threshold-without interiors-cc0 --out /work/data/fire-int/head_int.tflite
    python -m training.fire.interior_negatives evaluate_head --layer effnet-10x10 --head ... --fire-threshold ...

`--fire-only` (on every step, with its own `--int-data`) leaves the rooms' smoke label unknown: tried after
seeing D-Fire's smoke false alarms, not shipped either (MODEL_CARD_v3.md).

The panoramas' sources (repository, commit, path, sha256) are in training/fire/interior_panoramas.tsv;
neither panoramas nor photos are committed.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from training.fire.extra_negatives import data_folder, main, negative, write_split
from training.fire.sources import Source
from training.stable_split import fraction

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # read when OpenCV first meets an OpenEXR file

NAME = "interiors-cc0"
SOURCE = Source(NAME, "(CC0 panoramas: training/fire/interior_panoramas.tsv)", "", "", "CC0 (Poly Haven, ambientCG)", "folders",
                folder_labels={"interior": (0, 0)})
FIRE_ONLY = replace(SOURCE, folder_labels={"interior": (0, -1)})  # `--fire-only`: a room says "no fire", nothing of smoke
VIEWS = 12
SIZE = (640, 480)
VAL = 0.2
SEED = 17


def linear(path: Path) -> np.ndarray:
    """The panorama as linear light (float32 BGR): HDR files as they are, 8-bit ones undone from sRGB."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SystemExit(f"{path}: not an image OpenCV can read")
    image = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]  # grey, or drop alpha
    if image.dtype == np.uint8:
        return (image.astype(np.float32) / 255.0) ** 2.2
    return np.maximum(image.astype(np.float32), 0.0)


def view(pano: np.ndarray, yaw: float, pitch: float, hfov: float, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A pinhole photo of an equirectangular panorama, looking at (yaw, pitch) radians, `hfov` wide."""
    w, h = size
    f = (w / 2) / np.tan(hfov / 2)
    u, v = np.meshgrid(np.arange(w, dtype=np.float32) - w / 2, np.arange(h, dtype=np.float32) - h / 2)
    d = np.stack([u, v, np.full_like(u, f)], -1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    cp, sp, cy, sy = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    y = d[..., 1] * cp - d[..., 2] * sp  # tilt (positive pitch looks up: y is down)
    z = d[..., 1] * sp + d[..., 2] * cp
    x = d[..., 0] * cy + z * sy  # then turn
    z = -d[..., 0] * sy + z * cy
    lon, lat = np.arctan2(x, z), np.arcsin(np.clip(y, -1.0, 1.0))
    ph, pw = pano.shape[:2]
    map_x = ((lon / (2 * np.pi) + 0.5) * pw).astype(np.float32)
    map_y = ((lat / np.pi + 0.5) * ph).astype(np.float32)
    return cv2.remap(pano, map_x, map_y, cv2.INTER_AREA if pw > 4 * w else cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def exposed(light: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """8-bit BGR as an auto-exposing camera would take it: the median brightness to a mid-grey, highlights clipped."""
    lum = light @ np.array([0.0722, 0.7152, 0.2126], np.float32)
    scale = rng.uniform(0.12, 0.3) / max(float(np.median(lum)), 1e-6)
    return (np.clip(light * scale, 0.0, 1.0) ** (1 / 2.2) * 255.0).round().astype(np.uint8)


def in_val(scene: str) -> bool:
    return fraction(scene) < VAL


def make(data: Path, out: Path, panoramas: Path, smoke: int = 0) -> dict[str, int]:
    """VIEWS photos of every panorama under `data/raw/NAME/interior/`, and `out/split.json` with them
    (`smoke`: their smoke label, -1 when they are to teach the fire output only)."""
    manifest = data_folder(data, out)
    target = data / "raw" / NAME / "interior"
    target.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    rows, made = [], {"train": 0, "val": 0}
    for path in sorted(p for p in panoramas.iterdir() if p.is_file()):
        pano, split = linear(path), "val" if in_val(path.stem) else "train"
        for k in range(VIEWS):
            yaw = (k + rng.uniform(0.0, 1.0)) * 2 * np.pi / VIEWS  # spread round the room
            photo = exposed(view(pano, yaw, np.radians(rng.uniform(-15, 20)), np.radians(rng.uniform(60, 90))), rng)
            name = f"{path.stem}_{k}.jpg"
            cv2.imwrite(str(target / name), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
            rows.append(negative(NAME, "interior", name, split, path.stem, smoke))
            made[split] += 1
    write_split(out, manifest, rows)
    return made


def options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--panoramas", type=Path, default=Path("/work/data/interiors/hdri"))
    ap.add_argument("--fire-only", action="store_true", help="the rooms teach the fire output only (their smoke label unknown)")


if __name__ == "__main__":
    main(__doc__, "--int-data", Path("/work/data/fire-int"),
         lambda args, out: make(args.data, out, args.panoramas, -1 if args.fire_only else 0),
         lambda args: FIRE_ONLY if args.fire_only else SOURCE, options)
