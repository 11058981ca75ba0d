"""One command from pinned public photos to the shipped model and its figures.

    python -m training.fire.train [--mirrors /work/.mirror] [--data /work/data/fire] [--epochs 14]

Steps: extract the sources at their commits, hash and de-duplicate, split by origin (one source
held out whole), build whole-photo and crop samples, train with fixed seeds, export `.tflite`
into `edge_models/models/`, then measure it (and the classical detector) with
`training.fire.evaluate`, writing `training/fire/figures.json` and the model card's table.
Photos stay under `--data`, never in the repository.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from training.fire.crops import build
from training.fire.dataset import dedupe_and_group, hash_photos, load_photos, split
from training.fire.extract import extract
from training.fire.sources import SOURCES

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "edge_models" / "models" / "fire_smoke_v1.tflite"
SEED = 7


def prepare(mirrors: Path, data: Path) -> tuple[list, dict]:
    """Extract, hash (cached by path and size), de-duplicate and split; the photos and counts."""
    counts = {s.name: extract(s, mirrors, data / "raw") for s in SOURCES}
    photos = load_photos(SOURCES, data / "raw")
    cache_file = data / "phash.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    todo = [p for p in photos if cache.get(str(p.path), [None])[0] != p.path.stat().st_size]
    hash_photos(todo)
    for p in todo:
        cache[str(p.path)] = [p.path.stat().st_size, p.phash]
    cache_file.write_text(json.dumps(cache))
    for p in photos:
        p.phash = cache[str(p.path)][1]
    heldout = {s.name for s in SOURCES if s.heldout}
    kept, dedupe = dedupe_and_group(photos, heldout)
    split(kept, heldout, seed=SEED)
    summary = {
        "extracted": counts,
        "dedupe": dedupe,
        "photos": {f"{s}/{k}": n for (s, k), n in sorted(Counter((p.source, p.split) for p in kept).items())},
        "origins": len({p.origin for p in kept}),
    }
    manifest = [{"path": str(p.path.relative_to(data)), "source": p.source, "split": p.split, "origin": p.origin,
                 "fire": p.fire, "smoke": p.smoke} for p in kept]
    (data / "split.json").write_text(json.dumps(manifest, indent=0))
    return kept, summary


def train(photos: list, epochs: int, out: Path) -> dict:
    """Train on the 'train' split, pick nothing on 'val' (fixed epochs), export; training figures."""
    import keras
    import tensorflow as tf

    from training.fire.model import augment, build_model, export_tflite, masked_bce

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    t0 = time.time()
    x, y = build([p for p in photos if p.split == "train"], with_crops=True, seed=SEED)
    xv, yv = build([p for p in photos if p.split == "val"], with_crops=False, seed=SEED)
    built_s = time.time() - t0
    pos_f, pos_s = float((y[:, 0] == 1).sum()), float((y[:, 1] == 1).sum())
    print(f"samples: train {len(x)} (fire {pos_f:.0f}, smoke {pos_s:.0f}), val {len(xv)}; built in {built_s:.0f} s", flush=True)
    ds = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=SEED, reshuffle_each_iteration=True)
        .map(augment(SEED), num_parallel_calls=1, deterministic=True)
        .batch(64)
        .prefetch(2)
    )
    val = tf.data.Dataset.from_tensor_slices((xv.astype(np.float32), yv)).batch(128)
    model = build_model()
    steps = epochs * int(np.ceil(len(x) / 64))
    lr = keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=masked_bce)
    hist = model.fit(ds, validation_data=val, epochs=epochs, verbose=2)
    size = export_tflite(model, str(out))
    return {
        "train_samples": int(len(x)), "train_fire": int(pos_f), "train_smoke": int(pos_s), "val_photos": int(len(xv)),
        "epochs": epochs, "seconds": round(time.time() - t0, 1), "model_bytes": size,
        "loss": [round(v, 4) for v in hist.history["loss"]], "val_loss": [round(v, 4) for v in hist.history["val_loss"]],
        "params": int(model.count_params()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"), help="git snapshots, owner+name/repo")
    ap.add_argument("--data", type=Path, default=Path("/work/data/fire"), help="where photos are extracted (outside the repo)")
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--out", type=Path, default=MODEL)
    ap.add_argument("--skip-train", action="store_true", help="measure the existing model only")
    args = ap.parse_args()
    photos, summary = prepare(args.mirrors, args.data)
    print(json.dumps(summary, indent=1), flush=True)
    figures: dict = {"data": summary}
    if not args.skip_train:
        figures["training"] = train(photos, args.epochs, args.out)
        print(json.dumps(figures["training"]), flush=True)
    from training.fire.evaluate import evaluate_all, write_outputs

    figures["evaluation"] = evaluate_all(photos, args.out)
    write_outputs(figures, args.out)


if __name__ == "__main__":
    main()
