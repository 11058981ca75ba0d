"""How far each person detector (the shared COCO SSD, its swimmer head, the centre net) can go on swimmers,
whatever the score threshold (issue 15).

Run: `.venv/bin/python -m bench.regions_thresholds [valid|train|held|ground|plaza] [TILE] [coco|swimmer|max|centre|centre+coco] [flip]` (default:
valid 320 coco; held = the training photos held back for choosing thresholds; ground = 1080p frames of dry
ground with nobody on it, from the CC0 textures training.swim.ground_negatives keeps aside (GROUND_DATA), only
false boxes count there; plaza = the empty 1080p plaza of vtest.avi (bench.regions.background: grass, asphalt, cones,
stones and shadows, never trained on), false boxes only; swimmer = the swimmer head alone,
max = the better of it and the COCO person score per anchor, as shipped; centre = the swimmer centre net (+coco: with the
COCO SSD's person boxes at 0.5);
TILE may join tilings, e.g. 320+160: both run and merged; flip: each tile also run mirrored). The lifeguard
photos (LIFEGUARD_DATA, see bench/regions.py; never the `test/` split), each covered by TILE px tiles
(25 % overlap) as the station's `tiles` mode does, detections of every tile merged across tiles; a person
counts as found when a person box at or above the threshold overlaps it with IoU >= 0.3. Prints recall
and the false boxes per photo for each threshold: the recall a second-stage verifier over these
proposals could reach at most.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from bench.regions import _people, background, centre_detector, detector, found, lifeguard_photos, swimmer_detector
from edge_models.detector import Detection
from edge_models.region_detector import RegionPlanner, RegionSettings
from edge_models.regions import merge_regions, to_frame
from training.swim.dataset import held_back

GROUND_DATA = Path(os.environ.get("GROUND_DATA", "/work/data/ground"))
THRESHOLDS = (0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1)


def mirrored(found: list[Detection]) -> list[Detection]:
    """Detections of a mirrored tile, mapped back onto the tile."""
    return [Detection((1.0 - d.box[2], d.box[1], 1.0 - d.box[0], d.box[3]), d.score, d.class_id, d.label) for d in found]


def ground_photos() -> Iterator[tuple[np.ndarray, list[tuple[float, float, float, float]]]]:
    """The kept-aside frames of dry ground, each with nobody to find."""
    frames = sorted((GROUND_DATA / "aside").glob("*.jpg"))
    if not frames:
        raise SystemExit(f"no frames in {GROUND_DATA / 'aside'}: run training.swim.ground_negatives first")
    for path in frames:
        yield cv2.imread(str(path)), []


def run(split: str = "valid", tile: str = "320", head: str = "coco", flip: bool = False) -> dict[float, tuple[float, float]]:
    if head.startswith("centre"):
        det = centre_detector(with_coco=head == "centre+coco")
    else:
        det = detector() if head == "coco" else swimmer_detector(combine=head == "max")
    whole = [((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))]
    planners = [RegionPlanner(RegionSettings("tiles", int(size), 0.25, 0.0), whole) for size in str(tile).split("+")]
    people = photos = 0
    hits = {t: 0 for t in THRESHOLDS}
    false = {t: 0 for t in THRESHOLDS}
    if split == "ground":
        photos_of = ground_photos()
    elif split == "plaza":
        photos_of = iter([(background(), [])])
    else:
        photos_of = lifeguard_photos("train", only=held_back) if split == "held" else lifeguard_photos(split)
    for image, truths in photos_of:
        h, w = image.shape[:2]
        photos += 1
        people += len(truths)
        found_all = []
        regions = [r for planner in planners for r in planner.layout(w, h)]
        for i, r in enumerate(regions):
            crop = image[r.y:r.y2, r.x:r.x2]
            people_here = _people(det.detect(crop, min(THRESHOLDS)))
            if flip:
                people_here += mirrored(_people(det.detect(crop[:, ::-1].copy(), min(THRESHOLDS))))
            found_all += to_frame(people_here, r, w, h, i)
        for t in THRESHOLDS:  # the threshold first, then the merge across tiles (as the station does)
            kept = merge_regions([d for d in found_all if d.det.score >= t])
            hits[t] += sum(found(truth, kept) for truth in truths)
            false[t] += sum(1 for d in kept if not any(found(truth, [d]) for truth in truths))
    out = {t: (hits[t] / max(1, people), false[t] / max(1, photos)) for t in THRESHOLDS}
    print(f"  {'dry ' + split if split in ('ground', 'plaza') else 'lifeguard ' + split}: {photos} photos, {people} people, {tile} px tiles{' and mirrored' if flip else ''}, scores: {head}")
    for t, (recall, per_photo) in out.items():
        print(f"  score >= {t:.2f}: recall {recall:.3f}, false boxes per photo {per_photo:.2f}")
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    run(args[0] if args else "valid", args[1] if len(args) > 1 else "320", args[2] if len(args) > 2 else "coco", "flip" in args[3:])
