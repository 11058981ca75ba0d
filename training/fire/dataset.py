"""Labelled photos from the extracted sources: labels, origins, de-duplication and the split.

Why origins: many photos are frames of the same video; a model that saw frame 12 in training
and is measured on frame 13 looks better than it is. A photo's origin is its video (Roboflow
names keep it: `fire1_mp4-24_jpg.rf.<hash>.jpg`), and photos whose perceptual hashes are
near-identical are joined into one origin too, so near-duplicates never sit on both sides of a
split. Exact duplicates are dropped, and anything in training that nearly equals a held-out
photo is dropped from training, so the held-out figures are on photos never seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.fire.extract import IMAGE_SUFFIXES
from training.fire.sources import Source
from training.stable_split import fraction

UNKNOWN = -1


@dataclass
class Photo:
    """One photo: fire and smoke labels (1, 0 or UNKNOWN), boxes per class, origin and split."""

    path: Path
    source: str
    fire: int
    smoke: int
    boxes: list[tuple[str, float, float, float, float]] = field(default_factory=list)  # kind, x1, y1, x2, y2 (0..1)
    origin: str = ""
    split: str = ""
    phash: int = 0


def _origin(source: str, path: Path) -> str:
    stem = path.name.split("_jpg.rf.")[0].split(".rf.")[0]
    video = re.match(r"(.+?_mp4)", stem)
    return f"{source}:{video.group(1) if video else stem}"


def _yolo(source: Source, root: Path) -> list[Photo]:
    out = []
    for img in sorted(root.rglob("*")):
        if img.suffix.lower() not in IMAGE_SUFFIXES or img.parent.name != "images":
            continue
        label = img.parent.parent / "labels" / (img.stem + ".txt")
        if not label.exists():
            continue
        boxes = []
        for row in label.read_text().split("\n"):
            parts = row.split()
            if len(parts) != 5:
                continue
            kind = source.yolo_classes.get(int(parts[0]), "ignore")
            x, y, w, h = (float(v) for v in parts[1:])
            if kind != "ignore":
                boxes.append((kind, max(0.0, x - w / 2), max(0.0, y - h / 2), min(1.0, x + w / 2), min(1.0, y + h / 2)))
        kinds = {b[0] for b in boxes}
        labels_smoke = "smoke" in source.yolo_classes.values()
        if not boxes and not labels_smoke:
            continue  # a fire-only set's photo without boxes: unlabelled, not a known negative
        smoke = int("smoke" in kinds) if labels_smoke else UNKNOWN
        out.append(Photo(img, source.name, int("fire" in kinds), smoke, boxes, _origin(source.name, img)))
    return out


def _folders(source: Source, root: Path) -> list[Photo]:
    out = []
    for img in sorted(root.rglob("*")):
        if img.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        labels = source.folder_labels.get(img.parent.name)
        if labels is None:
            continue
        out.append(Photo(img, source.name, labels[0], labels[1], [], _origin(source.name, img)))
    return out


def load_photos(sources: tuple[Source, ...], raw: Path) -> list[Photo]:
    """Every labelled photo of the extracted sources."""
    photos: list[Photo] = []
    for s in sources:
        photos += _yolo(s, raw / s.name) if s.layout == "yolo" else _folders(s, raw / s.name)
    return photos


def hash_photos(photos: list[Photo]) -> None:
    """Perceptual hash (imagehash.phash, 64 bits) of each photo; unreadable photos get removed later."""
    import imagehash
    from PIL import Image

    for p in photos:
        try:
            with Image.open(p.path) as im:
                p.phash = int(str(imagehash.phash(im.convert("RGB"))), 16)
        except OSError:
            p.phash = -1


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def dedupe_and_group(photos: list[Photo], heldout: set[str], same: int = 2, near: int = 10) -> tuple[list[Photo], dict[str, int]]:
    """Drop unreadable photos and exact duplicates (Hamming distance <= `same`), join near-duplicates
    (<= `near`) into one origin, and drop training photos that nearly equal a held-out photo."""
    photos = [p for p in photos if p.phash >= 0]
    hashes = np.array([p.phash for p in photos], dtype=np.uint64)
    parent = list(range(len(photos)))
    dropped: set[int] = set()
    stats = {"unreadable_or_missing": 0, "duplicates": 0, "near_heldout": 0}
    for i in range(len(photos)):
        dist = np.bitwise_count(hashes[i + 1 :] ^ hashes[i])
        for k in np.nonzero(dist <= near)[0]:
            j = i + 1 + int(k)
            a, b = photos[i], photos[j]
            if (a.source in heldout) != (b.source in heldout):
                train_side = j if b.source not in heldout else i
                if train_side not in dropped:
                    dropped.add(train_side)
                    stats["near_heldout"] += 1
            elif dist[k] <= same and (a.fire, a.smoke) == (b.fire, b.smoke):
                if j not in dropped:
                    dropped.add(j)
                    stats["duplicates"] += 1
            else:
                parent[_find(parent, j)] = _find(parent, i)
    # Also join photos that share a named origin (video) with their hash-joined group.
    by_origin: dict[str, int] = {}
    for i, p in enumerate(photos):
        r = _find(parent, i)
        if p.origin in by_origin:
            parent[_find(parent, by_origin[p.origin])] = r
        else:
            by_origin[p.origin] = r
    kept = []
    for i, p in enumerate(photos):
        if i in dropped:
            continue
        p.origin = photos[_find(parent, i)].origin
        kept.append(p)
    return kept, stats


def split(photos: list[Photo], heldout: set[str], val_fraction: float = 0.2, seed: int = 7) -> None:
    """Held-out sources -> 'heldout'; others by origin: a stable hash of (seed, origin) picks 'val'."""
    for p in photos:
        if p.source in heldout:
            p.split = "heldout"
            continue
        h = fraction(f"{seed}:{p.origin}")
        p.split = "val" if h < val_fraction else "train"
