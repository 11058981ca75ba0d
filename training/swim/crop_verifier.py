"""Experiment (stop 28, not shipped): would a second look at each candidate with ImageNet features
lift swimmer recall at the same false boxes? It does not; this keeps the figure reproducible.

Candidates are what the station proposes on 320 px tiles (the swimmer head, max with COCO, down to
FLOOR, merged across tiles). Each is cut out square (CONTEXT times its longer side), resized to
CROP px and run through the EfficientNet-Lite0 int8 backbone the fire detector ships with (its
input resized; 2 ms a crop here); the 5x5x1280 map is pooled (mean and max). A logistic model,
trained on the candidates of the fit photos (label: IoU >= 0.3 with a person, the measure of
bench/regions.py), rescores them; held-back training photos and valid are measured.

    python -m training.swim.crop_verifier [--cache FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from bench.regions import lifeguard, swimmer_detector, tiled
from edge_models.fire_head import EFFNET_BACKBONE
from edge_models.region_detector import RegionPlanner, RegionSettings
from edge_models.runtime import open_interpreter
from edge_models.ssd_anchors import iou_matrix
from training.swim.dataset import held_back
from training.swim.features import WHOLE

FLOOR, CONTEXT, CROP = 0.2, 1.5, 160
THRESHOLDS = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)


def crop(image: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    """The square around a candidate, CONTEXT times its longer side (edges mirrored)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    side = int(round(max(x2 - x1, y2 - y1) * CONTEXT + 8))
    x, y = int(round((x1 + x2 - side) / 2)), int(round((y1 + y2 - side) / 2))
    pad = cv2.copyMakeBorder(image, side, side, side, side, cv2.BORDER_REFLECT)
    return pad[y + side:y + 2 * side, x + side:x + 2 * side]


def candidates(split: str) -> list[dict]:
    """Per photo: candidate scores, their IoU with the people, pooled crop features."""
    det = swimmer_detector()
    eff = open_interpreter(EFFNET_BACKBONE, 1, None)
    inp = eff.get_input_details()[0]
    eff.resize_tensor_input(inp["index"], [1, CROP, CROP, 3])
    eff.allocate_tensors()
    out = eff.get_output_details()[0]
    scale, zero = out["quantization"]
    planner = RegionPlanner(RegionSettings("tiles", 320, 0.25, 0.0), WHOLE)
    rows = []
    for path, boxes in lifeguard(split):
        image = cv2.imread(str(path))
        h, w = image.shape[:2]
        truths = np.array([(b[0] / w, b[1] / h, b[2] / w, b[3] / h) for b in boxes], np.float32).reshape(-1, 4)
        kept, _ = tiled(det, planner, image, None, FLOOR)  # every tile, merged across tiles, as the bench does
        feats = []
        for c in kept:
            rgb = cv2.cvtColor(cv2.resize(crop(image, c.box), (CROP, CROP), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            eff.set_tensor(inp["index"], rgb[None])
            eff.invoke()
            m = (eff.get_tensor(out["index"])[0].astype(np.float32) - zero) * scale
            feats.append(np.concatenate([m.mean((0, 1)), m.max((0, 1))]))
        b = np.asarray([c.box for c in kept], np.float32).reshape(-1, 4)
        rows.append({
            "stem": path.stem, "people": len(truths), "scores": np.asarray([c.score for c in kept], np.float32),
            "iou": iou_matrix(b, truths) if len(truths) and len(kept) else np.zeros((len(kept), len(truths)), np.float32),
            "feats": np.asarray(feats, np.float32).reshape(-1, 2560),
        })
    return rows


def features(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(pooled features and the candidate's score logit, label) of every candidate."""
    x = np.concatenate([np.concatenate([r["feats"], np.log(r["scores"] / (1 - r["scores"] + 1e-6))[:, None]], 1) for r in rows])
    y = np.concatenate([(r["iou"].max(1) >= 0.3) if r["iou"].size else np.zeros(len(r["scores"]), bool) for r in rows])
    return x, y.astype(np.float32)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, epochs: int = 300, lr: float = 1e-2):
    """Class-balanced logistic regression (Adam, full batch, seeded by construction: zeros)."""
    mu, sd = x.mean(0), x.std(0) + 1e-3
    z = (x - mu) / sd
    w, b = np.zeros(z.shape[1]), 0.0
    weight = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean())) / len(y)
    m, v = np.zeros(len(w) + 1), np.zeros(len(w) + 1)
    for t in range(1, epochs + 1):
        g = (1 / (1 + np.exp(-(z @ w + b))) - y) * weight
        grad = np.append(z.T @ g + l2 * w, g.sum())
        m, v = 0.9 * m + 0.1 * grad, 0.999 * v + 0.001 * grad**2
        step = lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        w, b = w - step[:-1], b - step[-1]
    return lambda q: 1 / (1 + np.exp(-(((q - mu) / sd) @ w + b)))


def table(rows: list[dict], scores: list[np.ndarray]) -> dict[float, tuple[float, float]]:
    """Per threshold: (recall, false boxes a photo), each row's candidates scored by `scores`."""
    people = sum(r["people"] for r in rows)
    out = {}
    for t in THRESHOLDS:
        found = false = 0
        for r, score in zip(rows, scores):
            if not len(r["scores"]):
                continue
            keep = score >= t
            hit = r["iou"][keep] >= 0.3 if r["iou"].size else np.zeros((int(keep.sum()), 0), bool)
            found += int(hit.any(0).sum())
            false += int((~hit.any(1)).sum())
        out[t] = (round(found / max(1, people), 3), round(false / max(1, len(rows)), 2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/work/data/lifeguard/crop_verifier.npz"))
    a = ap.parse_args()
    if not a.cache.exists():
        np.savez(a.cache, train=np.array(candidates("train"), dtype=object), valid=np.array(candidates("valid"), dtype=object))
    z = np.load(a.cache, allow_pickle=True)
    train, valid = list(z["train"]), list(z["valid"])
    back = [r for r in train if held_back(r["stem"])]
    verifier = fit(*features([r for r in train if not held_back(r["stem"])]))
    for name, rows in (("held back", back), ("valid", valid)):
        print(f"{name}: candidates' own score {table(rows, [r['scores'] for r in rows])}")
        print(f"{name}: verifier {table(rows, [verifier(features([r])[0]) for r in rows])}")  # once a photo


if __name__ == "__main__":
    main()
