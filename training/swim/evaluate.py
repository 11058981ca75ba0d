"""Recall and false boxes per photo as the station would see them: each tile scored, NMS in the
tile, boxes mapped to the photo, merged across tiles (edge_models.regions.merge_regions), a person
found when a kept box overlaps them with IoU >= 0.3 (the measure of bench/regions.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from edge_models.detector import Detection
from edge_models.regions import Rect, merge_regions, to_frame
from edge_models.ssd_anchors import decode, iou_matrix, nms, ssd_anchors
from training.swim.dataset import LOGIT_COLUMNS, dequant

THRESHOLDS = (0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05)
FLOOR = min(THRESHOLDS)
Scorer = Callable[[list[np.ndarray], np.ndarray], np.ndarray]  # (maps [T,...], logits [T,1917,2]) -> [T,1917]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def photo_candidates(z: np.lib.npyio.NpzFile, scorers: dict[str, Scorer], anchors: np.ndarray) -> dict[str, list]:
    """Per scorer: the region detections (frame-normalised) of every unflipped tile, at FLOOR."""
    keep = ~z["flipped"]
    maps = [dequant(z, i)[keep] for i in range(6)]
    enc = dequant(z, 6)[keep]
    logits = dequant(z, 7)[keep][:, :, list(LOGIT_COLUMNS)]
    rects = z["rects"][keep]
    w, h = (int(v) for v in z["size"])
    out: dict[str, list] = {}
    for name, scorer in scorers.items():
        scores = scorer(maps, logits)
        found = []
        for n, r in enumerate(rects):
            boxes = np.clip(decode(enc[n], anchors), 0.0, 1.0)
            idx = np.flatnonzero(scores[n] >= FLOOR)
            kept = [idx[k] for k in nms(boxes[idx], scores[n][idx], 0.6)] if len(idx) else []
            dets = [Detection(tuple(boxes[i]), float(scores[n][i]), 0, "person") for i in kept]
            found += to_frame(dets, Rect(*(int(v) for v in r)), w, h, n)
        out[name] = found
    return out


def count(found: Sequence, people: np.ndarray, size: tuple[int, int], t: float) -> tuple[int, int, int]:
    """(people, found, false boxes) of one photo at threshold t."""
    kept = merge_regions([d for d in found if d.det.score >= t])
    w, h = size
    truths = people / np.array([w, h, w, h], np.float32) if len(people) else np.zeros((0, 4), np.float32)
    if not kept:
        return len(truths), 0, 0
    boxes = np.asarray([d.box for d in kept], np.float32)
    iou = iou_matrix(truths, boxes) if len(truths) else np.zeros((0, len(kept)))
    return len(truths), int((iou >= 0.3).any(axis=1).sum()), int((~(iou >= 0.3).any(axis=0)).sum()) if len(truths) else len(kept)


def evaluate(files: list[Path], scorers: dict[str, Scorer]) -> dict[str, dict[float, tuple[float, float]]]:
    """Per scorer and threshold: (recall, false boxes per photo)."""
    anchors = ssd_anchors()
    tot = {name: {t: [0, 0, 0] for t in THRESHOLDS} for name in scorers}
    for f in files:
        z = np.load(f)
        size = tuple(int(v) for v in z["size"])
        for name, found in photo_candidates(z, scorers, anchors).items():
            for t in THRESHOLDS:
                p, k, fa = count(found, z["people"], size, t)
                acc = tot[name][t]
                acc[0] += p
                acc[1] += k
                acc[2] += fa
    return {name: {t: (v[1] / max(1, v[0]), v[2] / max(1, len(files))) for t, v in per.items()} for name, per in tot.items()}


def coco_scorer(maps: list[np.ndarray], logits: np.ndarray) -> np.ndarray:
    """The COCO person score of each anchor (what the shared model's own post-processing uses)."""
    return sigmoid(logits[:, :, 1])


def ceiling(files: list[Path]) -> float:
    """Share of the people some SSD box (any anchor, any tile) overlaps with IoU >= 0.3: the most
    any anchor-scoring head can reach."""
    anchors = ssd_anchors()
    people = hit = 0
    for f in files:
        z = np.load(f)
        keep = ~z["flipped"]
        enc = dequant(z, 6)[keep]
        w, h = (int(v) for v in z["size"])
        truths = z["people"] / np.array([w, h, w, h], np.float32)
        best = np.zeros(len(truths))
        for n, r in enumerate(z["rects"][keep]):
            x, y, rw, rh = (float(v) for v in r)
            b = decode(enc[n], anchors)
            fb = np.stack([(x + b[:, 0] * rw) / w, (y + b[:, 1] * rh) / h, (x + b[:, 2] * rw) / w, (y + b[:, 3] * rh) / h], axis=1)
            if len(truths):
                best = np.maximum(best, iou_matrix(truths, fb).max(axis=1))
        people += len(truths)
        hit += int((best >= 0.3).sum())
    return hit / max(1, people)
