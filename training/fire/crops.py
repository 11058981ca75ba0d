"""Training samples from labelled photos: the whole photo and crops, each 96x96 RGB.

Why crops: on the station the verifier sees the whole frame and crops around candidate regions
(`edge_models.fire_learned`), so it learns both views: a crop around each labelled box (with a
random margin, labelled by what it contains) and a crop away from every box (labelled "no
fire/smoke" where the source labels that class, unknown where it does not).
"""

from __future__ import annotations

import cv2
import numpy as np

from training.fire.dataset import UNKNOWN, Photo

SIZE = 96


def _resize(rgb: np.ndarray) -> np.ndarray:
    return cv2.resize(rgb, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def _inside(box: tuple[float, float, float, float], crop: tuple[float, float, float, float]) -> float:
    """Fraction of `box` inside `crop` (normalized coordinates)."""
    x1, y1, x2, y2 = box
    ix = max(0.0, min(x2, crop[2]) - max(x1, crop[0]))
    iy = max(0.0, min(y2, crop[3]) - max(y1, crop[1]))
    area = max(1e-9, (x2 - x1) * (y2 - y1))
    return ix * iy / area


def _crop(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = int(box[0] * w), int(box[1] * h), int(np.ceil(box[2] * w)), int(np.ceil(box[3] * h))
    return _resize(rgb[y1 : max(y2, y1 + 2), x1 : max(x2, x1 + 2)])


def samples_of(photo: Photo, rgb: np.ndarray, rng: np.random.Generator, with_crops: bool) -> list[tuple[np.ndarray, int, int]]:
    """(image, fire, smoke) samples of one photo: the whole photo, then crops when asked."""
    out = [(_resize(rgb), photo.fire, photo.smoke)]
    if not with_crops:
        return out
    h, w = rgb.shape[:2]
    boxes = photo.boxes
    picked = list(rng.permutation(np.array(boxes, dtype=object))[:2]) if boxes else []
    picked += [row for row in picked if row[0] == "smoke"]  # smoke is rarer: a second crop of each smoke box
    for kind, *b in picked:
        bx1, by1, bx2, by2 = (float(v) for v in b)
        grow = rng.uniform(1.2, 2.2)
        cx, cy = (bx1 + bx2) / 2 + rng.uniform(-0.1, 0.1) * (bx2 - bx1), (by1 + by2) / 2 + rng.uniform(-0.1, 0.1) * (by2 - by1)
        side = max((bx2 - bx1) * w, (by2 - by1) * h, 0.15 * min(w, h)) * grow
        crop = (max(0.0, cx - side / 2 / w), max(0.0, cy - side / 2 / h), min(1.0, cx + side / 2 / w), min(1.0, cy + side / 2 / h))
        labels = {}
        for k, known in (("fire", photo.fire != UNKNOWN), ("smoke", photo.smoke != UNKNOWN)):
            has = any(bk == k and _inside(tuple(bb), crop) >= 0.5 for bk, *bb in boxes)
            labels[k] = 1 if (has or k == kind) else (0 if known else UNKNOWN)
        out.append((_crop(rgb, crop), labels["fire"], labels["smoke"]))
    wanted = 1 if boxes or photo.fire or photo.smoke == 1 else 2  # negatives: two crops (hard negatives are rare)
    for _ in range(10 * wanted):  # crops away from every box
        side = rng.uniform(0.3, 0.6) * min(w, h)
        x = rng.uniform(0, w - side)
        y = rng.uniform(0, h - side)
        crop = (x / w, y / h, (x + side) / w, (y + side) / h)
        if all(_inside(tuple(bb), crop) == 0.0 for _, *bb in boxes):
            f = photo.fire if photo.fire == 0 or not boxes else 0
            s = photo.smoke if photo.smoke != 1 or not boxes else 0
            if boxes and photo.smoke == UNKNOWN:
                s = UNKNOWN
            if not boxes and (photo.fire == 1 or photo.smoke == 1):
                break  # a positive photo without boxes: a random crop may miss the fire
            out.append((_crop(rgb, crop), f, s))
            wanted -= 1
            if wanted == 0:
                break
    return out


def build(photos: list[Photo], with_crops: bool, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Stacked samples: images uint8 [N, 96, 96, 3] RGB and labels float32 [N, 2] (fire, smoke; -1 unknown)."""
    xs, ys = [], []
    for i, p in enumerate(photos):
        bgr = cv2.imread(str(p.path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rng = np.random.default_rng([seed, i])
        for img, f, s in samples_of(p, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), rng, with_crops):
            xs.append(img)
            ys.append((f, s))
    return np.stack(xs), np.array(ys, dtype=np.float32)
