"""Do candidate crops find the small flames the whole-frame pass misses? Per photo, at the same false-positive rate.

For every validation photo and every photo of the variant's unseen sources: the head's best cell on
the whole frame, then backbone + head again on a crop of each side around each of the best cells of
the whole-frame pass (`BackboneFireSmoke.crop_boxes`, the runtime's own choice). A photo's score with
n crops is the max over the whole frame and its first n crops; thresholds are chosen on validation
only (`evaluate.choose_threshold`), so the comparison is recall at the same false-positive rate.

    python -m training.fire.crop_probe --head PATH --layer 10x10 --variant cair-heldout [--sides 0.3 0.5] [--crops 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

from edge_models.fire_maps import OWN_BACKBONE
from training.fire.evaluate import _pr, choose_threshold
from training.fire.evaluate_head import read_photo
from training.fire.features import SSD, photos_of_split
from training.fire.train_head import EXCLUDED


def _scores(job: tuple[list[tuple[str, str, str, int, int, str]], Path, str, tuple[float, ...], int]) -> list[dict[str, Any]]:
    from edge_models.fire_head import BackboneFireSmoke
    from edge_models.zones import crop_pixels

    items, head, layer, sides, crops = job
    det = BackboneFireSmoke.load(None if layer in OWN_BACKBONE else SSD, head_path=head, layer=layer, crops=crops)
    out = []
    for path, source, split, fire, smoke, folder in items:
        bgr = read_photo(path)
        if bgr is None:
            continue
        cells = det.cells(bgr)
        row: dict[str, Any] = {"path": path, "source": source, "split": split, "fire": fire, "smoke": smoke, "folder": folder,
                               "whole": [float(cells[..., 0].max()), float(cells[..., 1].max())]}
        for side in sides:
            det.crop_side = side
            row[str(side)] = []
            for box in det.crop_boxes(cells):
                c = det.cells(crop_pixels(bgr, box, 8))
                row[str(side)].append([float(c[..., 0].max()), float(c[..., 1].max())])
        out.append(row)
    return out


def measure(rows: list[dict[str, Any]], variant: str, side: str | None, n: int) -> dict[str, Any]:
    """Thresholds on validation, then recall / FPR per set for the score max(whole, first n crops of `side`)."""
    excluded = EXCLUDED[variant]
    scored = []
    for r in rows:
        views = [r["whole"]] + (r[side][:n] if side else [])
        scored.append({**r, "fs": max(v[0] for v in views), "ss": max(v[1] for v in views)})
    sets: dict[str, list[dict]] = {}
    for r in scored:
        name = f"unseen:{r['source']}" if r["source"] in excluded else f"val:{r['source']}"
        sets.setdefault(name, []).append(r)
        if name.startswith("val"):
            sets.setdefault("val", []).append(r)
    thr = {k: choose_threshold(sets["val"], k)[0] for k in ("fire", "smoke")}
    return {"thresholds": thr, **{name: {k: _pr(sel, k, thr[k]) for k in ("fire", "smoke")} for name, sel in sorted(sets.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/data/fire"))
    ap.add_argument("--head", type=Path, required=True)
    ap.add_argument("--layer", default="10x10")
    ap.add_argument("--variant", choices=sorted(EXCLUDED), default="cair-heldout")
    ap.add_argument("--sides", type=float, nargs="+", default=[0.3, 0.5])
    ap.add_argument("--crops", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="keep the per-photo scores here (JSON)")
    args = ap.parse_args()
    t0 = time.time()
    excluded = EXCLUDED[args.variant]
    photos = [p for p in photos_of_split(args.data) if p.split == "val" and p.source not in excluded or p.source in excluded]
    items = [(str(p.path), p.source, p.split, p.fire, p.smoke, p.path.parent.name) for p in photos]
    jobs = [(items[w :: args.workers], args.head, args.layer, tuple(args.sides), args.crops) for w in range(args.workers)]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        rows = [r for part in pool.map(_scores, jobs) for r in part]
    if args.out is not None:
        args.out.write_text(json.dumps(rows))
    figures = {"seconds": round(time.time() - t0, 1), "photos": len(rows), "whole": measure(rows, args.variant, None, 0)}
    for side in args.sides:
        for n in range(1, args.crops + 1):
            figures[f"side {side}, {n} crops"] = measure(rows, args.variant, str(side), n)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
