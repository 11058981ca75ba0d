"""How far the shared COCO SSD can go on swimmers, whatever the score threshold (issue 15's next step).

Run: `.venv/bin/python -m bench.regions_thresholds [valid|train] [TILE] [coco|swimmer|max]` (default: valid 320
coco; swimmer = the swimmer head alone, max = the better of it and the COCO person score per anchor, as shipped). The lifeguard
photos (LIFEGUARD_DATA, see bench/regions.py; never the `test/` split), each covered by TILE px tiles
(25 % overlap) as the station's `tiles` mode does, detections of every tile merged across tiles; a person
counts as found when a person box at or above the threshold overlaps it with IoU >= 0.3. Prints recall
and the false boxes per photo for each threshold: the recall a second-stage verifier over these
proposals could reach at most.
"""

from __future__ import annotations

import sys

from bench.regions import _people, detector, found, lifeguard_photos, swimmer_detector
from edge_models.region_detector import RegionPlanner, RegionSettings
from edge_models.regions import merge_regions, to_frame

THRESHOLDS = (0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1)


def run(split: str = "valid", tile: int = 320, head: str = "coco") -> dict[float, tuple[float, float]]:
    det = detector() if head == "coco" else swimmer_detector(combine=head == "max")
    planner = RegionPlanner(RegionSettings("tiles", tile, 0.25, 0.0), [((0, 0), (1, 0), (1, 1), (0, 1))])
    people = photos = 0
    hits = {t: 0 for t in THRESHOLDS}
    false = {t: 0 for t in THRESHOLDS}
    for image, truths in lifeguard_photos(split):
        h, w = image.shape[:2]
        photos += 1
        people += len(truths)
        found_all = []
        for i, r in enumerate(planner.layout(w, h)):
            found_all += to_frame(_people(det.detect(image[r.y:r.y2, r.x:r.x2], min(THRESHOLDS))), r, w, h, i)
        for t in THRESHOLDS:  # the threshold first, then the merge across tiles (as the station does)
            kept = merge_regions([d for d in found_all if d.det.score >= t])
            hits[t] += sum(found(truth, kept) for truth in truths)
            false[t] += sum(1 for d in kept if not any(found(truth, [d]) for truth in truths))
    out = {t: (hits[t] / max(1, people), false[t] / max(1, photos)) for t in THRESHOLDS}
    print(f"  lifeguard {split}: {photos} photos, {people} people, {tile} px tiles, scores: {head}")
    for t, (recall, per_photo) in out.items():
        print(f"  score >= {t:.2f}: recall {recall:.3f}, false boxes per photo {per_photo:.2f}")
    return out


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else "valid", int(sys.argv[2]) if len(sys.argv) > 2 else 320, sys.argv[3] if len(sys.argv) > 3 else "coco")
