"""The SSD's intermediate tensors on the station's own tiles of every lifeguard photo, cached.

Why cached: the backbone is frozen, so one invoke per tile (and per flipped tile holding a person)
is all training needs; the head then trains in seconds from disk. Tiles are the station's
`tiles` mode (RegionPlanner, 320 px, 25 % overlap, the coarse layer included), so the head learns
the scales it will see. Tensors are kept as the model's own uint8 values (4x smaller than float;
the scale and zero point are saved with them). One .npz per photo under FEATURES/<split>/.

Far copies (`--far`, under FEATURES/<split>_far/): each photo shrunk so its median person is
FAR_HEIGHTS px tall and cut into FAR_TILE px tiles, the far band of a pond camera: the station
zooms those tiles up to the model's 300 px, so the head must learn the blurred person that makes.

    python -m training.swim.features [--data D] [--out D] [--workers 2] [--far]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
from pathlib import Path

import cv2
import numpy as np

from edge_models.region_detector import RegionPlanner, RegionSettings
from edge_models.runtime import TfliteModel
from edge_models.swimmer_head import FEATURE_MAPS
from training.swim.dataset import yolo_people

BACKBONE = Path("/work/shared/models/coco_ssd_mobilenet_v1_quant/detect.tflite")
DATA = Path("/work/data/lifeguard/data")
FEATURES = Path("/work/data/lifeguard/features")
TENSORS = (*FEATURE_MAPS, "concat", "concat_1")
WHOLE = [((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))]
FAR_TILE = 96
FAR_HEIGHTS = (12.0, 32.0)  # px: the median person of a far copy, drawn per photo in this range


def labels(path: Path, w: int, h: int) -> np.ndarray:
    """[N, 4] people in pixels (x1, y1, x2, y2) from a YOLO label file (every class is a person)."""
    return (yolo_people(path) * np.array([w, h, w, h], np.float64)).astype(np.float32)


def tiles(w: int, h: int, tile: int = 320) -> list:
    return RegionPlanner(RegionSettings("tiles", tile, 0.25, 0.0), WHOLE).layout(w, h)


def raw(model: TfliteModel, name: str) -> tuple[np.ndarray, float, int]:
    """A tensor of the last invoke as the model holds it (uint8) with its scale and zero point."""
    info = model._named[name]  # noqa: SLF001 - training reads the stored bytes, not dequantized floats
    return model._interp.get_tensor(info.index)[0].copy(), info.scale, info.zero_point  # noqa: SLF001


def has_person(people: np.ndarray, r) -> bool:
    """A person at least half inside the tile (worth a flipped copy)."""
    if not len(people):
        return False
    ix = np.clip(np.minimum(people[:, 2], r.x2) - np.maximum(people[:, 0], r.x), 0, None)
    iy = np.clip(np.minimum(people[:, 3], r.y2) - np.maximum(people[:, 1], r.y), 0, None)
    area = (people[:, 2] - people[:, 0]) * (people[:, 3] - people[:, 1])
    return bool(np.any(ix * iy >= 0.5 * area))


def far_copy(image: np.ndarray, people: np.ndarray, stem: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The photo shrunk (INTER_AREA, as optics and the sensor do) so its median person is a height
    drawn from FAR_HEIGHTS (seeded by the photo's name); None when nobody is in it or they already are that small."""
    if not len(people):
        return None
    rng = np.random.default_rng(int(hashlib.sha256(stem.encode()).hexdigest()[:8], 16))
    s = rng.uniform(*FAR_HEIGHTS) / float(np.median(people[:, 3] - people[:, 1]))
    if s >= 0.7:
        return None
    return cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA), people * np.float32(s)


def extract(job: tuple[Path, Path, bool, bool]) -> str:
    image_path, out, flips, far = job
    if out.exists():
        return "cached"
    model = TfliteModel(BACKBONE, threads=1, keep_tensors=True)
    image = cv2.imread(str(image_path))
    if image is None:
        return "unreadable"
    h, w = image.shape[:2]
    people = labels(image_path.parent.parent / "labels" / (image_path.stem + ".txt"), w, h)
    tile = 320
    if far:
        copy = far_copy(image, people, image_path.stem)
        if copy is None:
            return "skipped"
        image, people = copy
        h, w = image.shape[:2]
        tile = FAR_TILE
    stacks: dict[str, list[np.ndarray]] = {n: [] for n in TENSORS}
    quant: dict[str, tuple[float, int]] = {}
    rects, flipped = [], []
    for r in tiles(w, h, tile):
        crop = image[r.y:r.y2, r.x:r.x2]
        for flip in (False, True) if flips and has_person(people, r) else (False,):
            model.run(crop[:, ::-1] if flip else crop)
            for n in TENSORS:
                v, scale, zero = raw(model, n)
                stacks[n].append(v)
                quant[n] = (scale, zero)
            rects.append((r.x, r.y, r.w, r.h))
            flipped.append(flip)
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"t{i}": np.stack(stacks[n]) for i, n in enumerate(TENSORS)}
    arrays.update({f"q{i}": np.asarray(quant[n], dtype=np.float64) for i, n in enumerate(TENSORS)})
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, rects=np.asarray(rects, np.int32), flipped=np.asarray(flipped), people=people, size=np.asarray((w, h)), **arrays)
    tmp.rename(out)
    return "done"


def photos(data: Path, split: str) -> list[Path]:
    return sorted(p for p in (data / split / "images").glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def run(data: Path = DATA, out: Path = FEATURES, workers: int = 2, far: bool = False) -> None:
    suffix = "_far" if far else ""
    jobs = [(p, out / (split + suffix) / (p.stem + ".npz"), split == "train", far) for split in ("train", "valid") for p in photos(data, split)]
    with multiprocessing.Pool(workers) as pool:
        for i, status in enumerate(pool.imap_unordered(extract, jobs, chunksize=4)):
            if i % 100 == 0:
                print(f"features {i}/{len(jobs)} {status}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=FEATURES)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--far", action="store_true", help="the far copies (FAR_TILE px tiles of shrunk photos) instead")
    a = ap.parse_args()
    run(a.data, a.out, a.workers, a.far)


if __name__ == "__main__":
    main()
