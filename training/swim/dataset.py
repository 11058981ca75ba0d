"""From cached tiles to training arrays: SSD matching of the labelled people to the anchors.

Why match on the SSD's decoded boxes (not only the anchors): the head only scores anchors, the
box shipped is the SSD's own regression of that anchor, so an anchor is worth a high score only if
its box lands on the person. A person mostly outside a tile (less than VISIBLE of them in it) is
neither asked for nor punished there: the neighbouring tile holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_models.ssd_anchors import decode, iou_matrix, ssd_anchors
from training.stable_split import fraction

POSITIVE, IGNORE, VISIBLE = 0.5, 0.3, 0.4
HELD_BACK = 0.15
LOGIT_COLUMNS = (0, 1)  # background, person


def origin(stem: str) -> str:
    """The photo a Roboflow export was made from (its augmented copies share it)."""
    return stem.split(".rf.")[0]


def held_back(stem: str) -> bool:
    """About HELD_BACK of the training photos, by origin, for choosing the threshold."""
    return fraction(origin(stem)) < HELD_BACK


def yolo_people(label: Path) -> np.ndarray:
    """[N, 4] people (x1, y1, x2, y2) normalised to the photo, from a YOLO label file (`class cx cy w h`;
    every class of the lifeguard set is a person); none when the file is missing. The one reader of the
    lifeguard labels: training (features, centre net) and the benchmarks see the same boxes."""
    rows = []
    for line in label.read_text().splitlines() if label.exists() else []:
        v = line.split()
        if len(v) == 5:
            cx, cy, bw, bh = (float(x) for x in v[1:])
            rows.append((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def dequant(z: np.lib.npyio.NpzFile, i: int) -> np.ndarray:
    scale, zero = z[f"q{i}"]
    return (z[f"t{i}"].astype(np.float32) - zero) * scale


def tile_people(people: np.ndarray, rect: np.ndarray, flipped: bool) -> tuple[np.ndarray, np.ndarray]:
    """People normalised to one tile (clipped) and the fraction of each inside it."""
    x, y, w, h = (float(v) for v in rect)
    if not len(people):
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    b = (people - np.array([x, y, x, y], np.float32)) / np.array([w, h, w, h], np.float32)
    c = np.clip(b, 0.0, 1.0)
    full = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    vis = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1]) / np.maximum(full, 1e-9)
    if flipped:
        c = np.stack([1 - c[:, 2], c[:, 1], 1 - c[:, 0], c[:, 3]], axis=1)
    return c, vis


def targets(boxes: np.ndarray, anchors_xyxy: np.ndarray, people: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """Per anchor: 1 positive, 0 negative, -1 ignored."""
    t = np.zeros(len(boxes), np.float32)
    if not len(people):
        return t
    iou = iou_matrix(boxes, people)
    aiou = iou_matrix(anchors_xyxy, people)
    whole = vis >= VISIBLE
    t[((iou >= IGNORE) | (aiou >= IGNORE)).any(axis=1)] = -1
    t[(iou[:, whole] >= POSITIVE).any(axis=1)] = 1
    for j in np.flatnonzero(whole):
        best = int(np.argmax(iou[:, j]))
        if iou[best, j] >= IGNORE:
            t[best] = 1
    t[((iou[:, ~whole] >= IGNORE).any(axis=1)) & (t == 0)] = -1
    return t


@dataclass
class Split:
    """Tiles of a set of photos: the six maps (uint8 as cached), logits, targets, photo index."""

    maps: list[np.ndarray]
    quant: list[tuple[float, float]]
    logits: np.ndarray
    target: np.ndarray
    photo: np.ndarray
    flipped: np.ndarray


def anchors_xyxy() -> tuple[np.ndarray, np.ndarray]:
    a = ssd_anchors()
    return a, np.stack([a[:, 1] - a[:, 3] / 2, a[:, 0] - a[:, 2] / 2, a[:, 1] + a[:, 3] / 2, a[:, 0] + a[:, 2] / 2], axis=1)


def load(files: list[Path], empty_keep: float = 1.0, seed: int = 7, flips: bool = True) -> Split:
    """Tiles of `files`; tiles with nobody in them are kept with probability `empty_keep`."""
    rng = np.random.default_rng(seed)
    a, axy = anchors_xyxy()
    maps: list[list[np.ndarray]] = [[] for _ in range(6)]
    logits, tgt, photo, flipped = [], [], [], []
    quant: list[tuple[float, float]] = []
    for k, f in enumerate(files):
        with np.load(f) as z:
            quant = [tuple(z[f"q{i}"]) for i in range(6)]
            enc = dequant(z, 6)
            lg = dequant(z, 7)[:, :, list(LOGIT_COLUMNS)]
            raw = [z[f"t{i}"] for i in range(6)]
            people, rects, flags = z["people"], z["rects"], z["flipped"]
        for n in range(len(rects)):
            fl = bool(flags[n])
            if fl and not flips:
                continue
            ppl, vis = tile_people(people, rects[n], fl)
            t = targets(decode(enc[n], a), axy, ppl, vis)
            if not (t != 0).any() and rng.random() > empty_keep:
                continue
            for i in range(6):
                maps[i].append(raw[i][n].copy())
            logits.append(lg[n].astype(np.float16))
            tgt.append(t)
            photo.append(k)
            flipped.append(fl)
    stacked = []
    for i in range(6):
        stacked.append(np.stack(maps[i]))
        maps[i] = []
    return Split(stacked, quant, np.stack(logits), np.stack(tgt), np.asarray(photo), np.asarray(flipped))
