"""The shipped swimmer head's figures measured again, without training: after a change to what
the station does around the head (the merge across tiles, the thresholds), the model card must
tell what the station now sees, and retraining would only reproduce the same weights.

    python -m training.swim.remeasure [--features D]

Scores the cached tiles through the shipped `.tflite` itself (edge_models.swimmer_head, as the
station runs it), chooses the thresholds on the held-back training photos again, measures valid
once, and rewrites `training/swim/figures.json` and the model card (training facts kept).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edge_models.swimmer_head import SwimmerHead
from foundation.file_hash import sha256_file
from training.swim import evaluate as ev
from training.swim.card import write as write_card
from training.swim.dataset import held_back
from training.swim.features import FEATURES
from training.swim.train import FIGURES, MODEL, THRESHOLD_RULE, choose, table


def tflite_scorer(head: SwimmerHead) -> ev.Scorer:
    """The shipped head over cached tiles; the cache keeps two logit columns, the head reads the
    first two of the model's 91 (sliced inside), so the rest are zeros."""

    def score(maps: list[np.ndarray], logits: np.ndarray) -> np.ndarray:
        full = np.zeros((len(logits), 1917, 91), np.float32)
        full[:, :, : logits.shape[2]] = logits
        return np.stack([head.scores([m[n:n + 1] for m in maps], full[n]) for n in range(len(logits))])

    return score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=Path, default=FEATURES)
    ap.add_argument("--choose-only", action="store_true", help="choose the thresholds again from the tables in figures.json, score nothing")
    a = ap.parse_args()
    old = json.loads(FIGURES.read_text())
    if a.choose_only:
        back = {name: {float(t): tuple(v) for t, v in table.items()} for name, table in old["held_back"].items()}
        valid = {name: {float(t): tuple(v) for t, v in table.items()} for name, table in old["valid"].items()}
        return write(old, back, valid)
    if old["head"]["sha256"] != sha256_file(MODEL):
        raise SystemExit(f"{MODEL} is not the head figures.json describes: retrain with training.swim.train")
    files = sorted((a.features / "train").glob("*.npz"))
    back_files = [f for f in files if held_back(f.stem)]
    valid_files = sorted((a.features / "valid").glob("*.npz"))
    swim = tflite_scorer(SwimmerHead(MODEL))
    scorers: dict[str, ev.Scorer] = {"swimmer": swim, "coco": ev.coco_scorer}
    scorers["max"] = lambda maps, logits: np.maximum(swim(maps, logits), ev.coco_scorer(maps, logits))
    write(old, ev.evaluate(back_files, scorers), ev.evaluate(valid_files, scorers))


def write(old: dict, back: dict[str, dict[float, tuple[float, float]]], valid: dict[str, dict[float, tuple[float, float]]]) -> None:
    """Thresholds chosen on the held-back tables, valid read at them; figures and card rewritten."""
    chosen = {name: choose(f) for name, f in back.items()}
    old.update({
        "chosen_threshold_on_held_back": chosen,
        "held_back": {name: table(f) for name, f in back.items()},
        "valid": {name: table(f) for name, f in valid.items()},
        "valid_at_chosen": {name: [round(valid[name][t][0], 3), round(valid[name][t][1], 2)] for name, t in chosen.items()},
        "threshold_rule": THRESHOLD_RULE,
    })
    old.pop("station_merge_cost_valid", None)  # measured with the merge this replaces
    FIGURES.write_text(json.dumps(old, indent=1) + "\n")
    write_card(old)
    print(json.dumps({"chosen": chosen, "valid_at_chosen": old["valid_at_chosen"]}))


if __name__ == "__main__":
    main()
