"""The shared SSD's backbone features of every photo (and a few augmented views), cached on disk.

Why cache: the head is trained on the frozen MobileNet-V1 feature map
(`Conv2d_13_pointwise/Relu6`, 10 x 10 x 768 for a 300 x 300 input), which costs one SSD invoke
(~35-40 ms here) per view; a few thousand photos times a few views is minutes, training epochs
are seconds. Features are stored as the interpreter's uint8 (the tensor is uint8-quantized, so
nothing is lost) and dequantized with the tensor's scale when loaded.

Views: the whole photo, as the station sees a frame (resized to 300 x 300, aspect not kept);
for photos that may be trained on also a mirrored view with brightness/contrast jitter and zoom
crops (around a labelled box when there are boxes, so the head learns fires at several sizes).
Each view carries its image labels (fire, smoke: 1, 0, -1 unknown) and per-cell targets (10 x 10
per class: 1 on cells a box covers, 0 on cells known free, -1 unknown) from the YOLO boxes.

    python -m training.fire.features [--data /work/data/fire] [--workers 2] [--layer 10|19]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path

import cv2
import numpy as np

from training.fire.dataset import UNKNOWN, Photo, load_photos
from training.fire.sources import SOURCES

ROOT = Path(__file__).resolve().parents[2]
SSD = ROOT.parent / "shared" / "models" / "coco_ssd_mobilenet_v1_quant" / "detect.tflite"
LAYER = "FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6"
GRID = 10
CHANNELS = 768
SEED = 7
Box = tuple[float, float, float, float]


def photos_of_split(data: Path) -> list[Photo]:
    """The de-duplicated photos of `split.json` with their boxes (re-read from the YOLO labels)."""
    manifest = json.loads((data / "split.json").read_text())
    by_path = {str(p.path.relative_to(data)): p for p in load_photos(SOURCES, data / "raw")}
    out = []
    for row in manifest:
        p = by_path.get(row["path"])
        if p is None:
            continue
        p.split, p.origin = row["split"], row["origin"]
        out.append(p)
    return out


def _inside(box: Box, crop: Box) -> float:
    ix = max(0.0, min(box[2], crop[2]) - max(box[0], crop[0]))
    iy = max(0.0, min(box[3], crop[3]) - max(box[1], crop[1]))
    return ix * iy / max(1e-9, (box[2] - box[0]) * (box[3] - box[1]))


def _to_view(box: Box, crop: Box, flip: bool) -> Box:
    """A box of the photo in the coordinates of a view (crop, then mirror), clipped to it."""
    cw, ch = crop[2] - crop[0], crop[3] - crop[1]
    x1, y1 = (box[0] - crop[0]) / cw, (box[1] - crop[1]) / ch
    x2, y2 = (box[2] - crop[0]) / cw, (box[3] - crop[1]) / ch
    if flip:
        x1, x2 = 1 - x2, 1 - x1
    return (max(0.0, x1), max(0.0, y1), min(1.0, x2), min(1.0, y2))


def labels_of_view(photo: Photo, crop: Box, flip: bool, grid: int = GRID) -> tuple[int, int, np.ndarray]:
    """(fire, smoke, cells[grid, grid, 2]) of one view of a photo."""
    cells = np.full((grid, grid, 2), UNKNOWN, dtype=np.int8)
    known = (photo.fire != UNKNOWN, photo.smoke != UNKNOWN)
    whole = crop == (0.0, 0.0, 1.0, 1.0)
    if not photo.boxes:
        if photo.fire == 1 or photo.smoke == 1:  # a positive photo without boxes: only image labels, cells unknown
            return photo.fire, photo.smoke, cells
        for k in (0, 1):
            if known[k]:
                cells[..., k] = 0
        return photo.fire, photo.smoke, cells
    label = [0 if known[0] else UNKNOWN, 0 if known[1] else UNKNOWN]
    for k in (0, 1):
        if known[k]:
            cells[..., k] = 0
    for kind, *b in photo.boxes:
        k = 0 if kind == "fire" else 1
        frac = _inside(tuple(b), crop)  # type: ignore[arg-type]
        if frac >= 0.4 or (whole and frac > 0):
            label[k] = 1
        elif frac > 0 and label[k] != 1:
            label[k] = UNKNOWN  # a sliver of the box: do not call the view either way
        vb = _to_view(tuple(b), crop, flip)  # type: ignore[arg-type]
        if vb[2] <= vb[0] or vb[3] <= vb[1]:
            continue
        c1, r1 = int(vb[0] * grid), int(vb[1] * grid)
        c2, r2 = max(c1 + 1, int(np.ceil(vb[2] * grid))), max(r1 + 1, int(np.ceil(vb[3] * grid)))
        cells[r1:r2, c1:c2, k] = 1
    return label[0], label[1], cells


def views_of(photo: Photo, rng: np.random.Generator, augment: bool) -> list[tuple[Box, bool, float, float]]:
    """(crop, mirror, contrast gain, brightness offset) of each view of a photo."""
    views: list[tuple[Box, bool, float, float]] = [((0.0, 0.0, 1.0, 1.0), False, 1.0, 0.0)]
    if not augment:
        return views
    views.append(((0.0, 0.0, 1.0, 1.0), True, float(rng.uniform(0.7, 1.3)), float(rng.uniform(-30, 30))))
    positive_without_boxes = not photo.boxes and (photo.fire == 1 or photo.smoke == 1)
    for n in range(1 if positive_without_boxes else 2):
        if photo.boxes:
            _, *b = photo.boxes[int(rng.integers(len(photo.boxes)))]
            grow = float(rng.uniform(1.5, 4.0))
            bw, bh = max(b[2] - b[0], 0.08) * grow, max(b[3] - b[1], 0.08) * grow
            side = min(1.0, max(bw, bh, 0.3))
            cx = (b[0] + b[2]) / 2 + rng.uniform(-0.25, 0.25) * side
            cy = (b[1] + b[3]) / 2 + rng.uniform(-0.25, 0.25) * side
        else:
            side = float(rng.uniform(0.8, 0.95) if positive_without_boxes else rng.uniform(0.4, 0.8))
            cx, cy = rng.uniform(side / 2, 1 - side / 2), rng.uniform(side / 2, 1 - side / 2)
        cx, cy = min(max(cx, side / 2), 1 - side / 2), min(max(cy, side / 2), 1 - side / 2)
        crop = (float(cx - side / 2), float(cy - side / 2), float(cx + side / 2), float(cy + side / 2))
        views.append((crop, bool(rng.integers(2)), float(rng.uniform(0.8, 1.2)), float(rng.uniform(-20, 20))))
    return views


def render(bgr: np.ndarray, crop: Box, flip: bool, gain: float, offset: float) -> np.ndarray:
    """The view's pixels (BGR) before the SSD's own resize."""
    h, w = bgr.shape[:2]
    x1, y1 = int(crop[0] * w), int(crop[1] * h)
    x2, y2 = max(x1 + 8, int(np.ceil(crop[2] * w))), max(y1 + 8, int(np.ceil(crop[3] * h)))
    img = bgr[y1:y2, x1:x2]
    if flip:
        img = img[:, ::-1]
    if gain != 1.0 or offset:
        img = cv2.convertScaleAbs(img, alpha=gain, beta=offset)
    return np.ascontiguousarray(img)


LAYERS = {  # the map's name in the cache file -> (tensor, grid); "10" is v2's, "19" the SSD's finer map;
    "10": (LAYER, GRID),  # "e10": EfficientNet-Lite0's last map at 320 x 320 (v3, `effnet_lite`), its own invoke
    "19": ("FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_11_pointwise/Relu6", 19),
    "e10": ("", 10),
}
RELU6_SCALE = 6.0 / 255.0  # how the EfficientNet map (float ReLU6 out of the int8 model) is stored as uint8


def cache_path(data: Path, layer: str = "10") -> Path:
    return data / "features" / ("features.npz" if layer == "10" else f"features{layer}.npz")


def _worker(args: tuple[list[Photo], list[int], Path, int, str]) -> None:
    from edge_models.runtime import TfliteModel

    photos, indices, out, shard, layer = args
    name, grid = LAYERS[layer]
    if name:
        model = TfliteModel(SSD, threads=1, keep_tensors=True)
        scale = model._named[name].scale  # the tensor is uint8: stored as such, dequantized on load
    else:
        from training.fire.effnet_lite import backbone_path

        model, scale = TfliteModel(backbone_path(out.parent, 320), threads=1), RELU6_SCALE
    feats, meta, cells = [], [], []
    for i in indices:
        p = photos[i]
        bgr = cv2.imread(str(p.path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        if max(bgr.shape[:2]) > 1600:  # the decode is the slow part for big photos; 300 x 300 is all the SSD sees
            f = 1600 / max(bgr.shape[:2])
            bgr = cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        rng = np.random.default_rng([SEED, i])
        for v, (crop, flip, gain, offset) in enumerate(views_of(p, rng, augment=p.source != "dfire-sample")):
            outputs = model.run(render(bgr, crop, flip, gain, offset))
            q = np.rint((model.tensor(name) if name else outputs[0])[0] / scale).clip(0, 255).astype(np.uint8)
            fire, smoke, c = labels_of_view(p, crop, flip, grid)
            feats.append(q)
            cells.append(c)
            meta.append((i, v, fire, smoke))
    np.savez(out / f"shard{layer}_{shard}.npz", feats=np.stack(feats), cells=np.stack(cells), meta=np.array(meta, dtype=np.int32),
             scale=np.float32(scale))


def extract_all(data: Path, workers: int = 2, layer: str = "10") -> Path:
    """Features of every photo of the split (the same views for every layer), in `cache_path` (skipped when present)."""
    target = cache_path(data, layer)
    out = target.parent
    if target.exists():
        return target
    out.mkdir(parents=True, exist_ok=True)
    if not LAYERS[layer][0]:
        from training.fire.effnet_lite import export_backbone

        export_backbone(data, 320)
    photos = photos_of_split(data)
    t0 = time.time()
    jobs = [(photos, list(range(s, len(photos), workers)), out, s, layer) for s in range(workers)]
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(_worker, jobs)
    parts = [np.load(out / f"shard{layer}_{s}.npz") for s in range(workers)]
    meta = np.concatenate([p["meta"] for p in parts])
    order = np.lexsort((meta[:, 1], meta[:, 0]))
    np.savez(target, feats=np.concatenate([p["feats"] for p in parts])[order], cells=np.concatenate([p["cells"] for p in parts])[order],
             meta=meta[order], scale=parts[0]["scale"], paths=np.array([str(p.path.relative_to(data)) for p in photos]))
    for s in range(workers):
        (out / f"shard{layer}_{s}.npz").unlink()
    print(f"features {layer}: {len(meta)} views of {len(photos)} photos in {time.time() - t0:.0f} s", flush=True)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/data/fire"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--layer", choices=sorted(LAYERS), default="10", help="10: the 10 x 10 x 768 map (v2); 19: 19 x 19 x 384 (v3)")
    args = ap.parse_args()
    extract_all(args.data, args.workers, args.layer)


if __name__ == "__main__":
    main()
