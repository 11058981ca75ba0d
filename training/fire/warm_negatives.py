"""Experiment: warm-lit negatives made from the training sources' own negatives (issue 16).

Why: with cair never seen, most of v3's false alarms on cair are rooms and streets lit by warm lamps
(MODEL_CARD_v3.md, failures); 600 indoor photos under research-only terms cut them from 12 % to 6 %,
but no licence-clean indoor set is reachable. This makes the lesson instead: each negative photo of
the training sources (weather, fire-8's photos without fire) is dimmed, given a warm white balance
and one to five glowing lamps (a white-yellow core in an orange halo), and kept as a negative. The
head must then tell fire from warm light by shape and texture, not by colour alone.

The copies keep their original's split (no original in train with its copy in val) and live in a
data folder of their own (`--warm-data`, with `raw` linked to the real one), so the shipped figures'
cache is untouched:

    python -m training.fire.warm_negatives --data /work/data/fire --warm-data /work/data/fire-warm make
    python -m training.fire.warm_negatives --warm-data /work/data/fire-warm features --layer e10
    python -m training.fire.warm_negatives --warm-data /work/data/fire-warm train_head --layer effnet-10x10 --variant cair-heldout ...
    python -m training.fire.warm_negatives --warm-data /work/data/fire-warm evaluate_head --layer effnet-10x10 ...

(the last three run the usual module with the synthetic source known, and `--data` set to `--warm-data`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.fire.extra_negatives import data_folder, main, negative, write_split
from training.fire.sources import Source

NAME = "warm-synthetic"
WARM = Source(NAME, "(made here from the training negatives)", "", "", "derived from the sources of its originals", "folders",
              folder_labels={"warm": (0, 0)})
EXCLUDED_ORIGINALS = {"cair", "dfire-sample"}  # never made from the unseen sources
SEED = 16


def warm_lit(bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo dimmed, white-balanced warm, with 1-5 glowing lamps added (uint8 BGR in, out)."""
    img = bgr.astype(np.float32) / 255.0
    h, w = img.shape[:2]
    img = img ** rng.uniform(1.2, 2.0) * rng.uniform(0.45, 0.85)  # evening or indoor light
    img *= np.array([rng.uniform(0.45, 0.75), rng.uniform(0.75, 0.92), rng.uniform(1.0, 1.2)], np.float32)  # B, G, R
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(1, 6))):
        cy, cx = rng.uniform(0.05, 0.95) * h, rng.uniform(0.05, 0.95) * w
        r = rng.uniform(0.01, 0.05) * min(h, w)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        core = np.exp(-d2 / (2 * r * r))
        halo = np.exp(-d2 / (2 * (r * rng.uniform(3.0, 6.0)) ** 2)) * rng.uniform(0.3, 0.7)
        img += core[..., None] * np.array([0.75, 0.95, 1.0], np.float32)  # white-yellow core
        img += halo[..., None] * np.array([0.15, 0.45, 0.95], np.float32)  # orange glow
    return (np.clip(img, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def make(data: Path, out: Path) -> dict[str, int]:
    """Write one warm copy of every negative of the training sources, and `out/split.json` with them."""
    manifest = data_folder(data, out)
    target = data / "raw" / NAME / "warm"
    target.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    rows, made = [], {"train": 0, "val": 0}
    for row in manifest:
        if row["source"] in EXCLUDED_ORIGINALS or row["fire"] != 0 or row["smoke"] != 0 or row["split"] not in made:
            continue
        image = cv2.imread(str(data / row["path"]), cv2.IMREAD_COLOR)
        if image is None:
            continue
        name = f"{row['source']}-{Path(row['path']).stem}.jpg"
        cv2.imwrite(str(target / name), warm_lit(image, rng), [cv2.IMWRITE_JPEG_QUALITY, 90])
        rows.append(negative(NAME, "warm", name, row["split"], row["origin"]))
        made[row["split"]] += 1
    write_split(out, manifest, rows)
    return made


if __name__ == "__main__":
    main(__doc__, "--warm-data", Path("/work/data/fire-warm"), lambda args, out: make(args.data, out), lambda args: WARM)
