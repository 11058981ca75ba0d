"""Train the fire/smoke head on the cached backbone features, export it, measure it.

    python -m training.fire.train_head [--data /work/data/fire] [--variant cair-heldout|cair-normals-in]
        [--layer 10x10|19x19|19x19+10x10] [--out PATH]

Two variants, because the honest test needs a source never trained on:
- `cair-heldout`: trains on Bombatronic, Roboflow fire-8 and the weather photos; the whole cair
  set (fire, and normal photos with sunsets, red cars, lamps) and the D-Fire sample are never
  seen, and measured as such.
- `cair-normals-in`: the same plus cair's training-split photos (as v1 was trained); then only
  D-Fire and cair's validation photos are unseen, and the card says so.
Thresholds are chosen on the validation split only (`evaluate.choose_threshold`); `--threshold-without S`
leaves source S's validation photos out of that pool (easy negatives there would lower the smoke threshold).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_models.fire_maps import SHAPES, stack
from training.fire.dataset import UNKNOWN
from training.fire.evaluate import _pr, choose_threshold
from training.fire.features import extract_all, photos_of_split

ROOT = Path(__file__).resolve().parents[2]
HEAD = ROOT / "edge_models" / "models" / "fire_smoke_head_v2.tflite"
SEED = 7
CACHES = {"10x10": ("10",), "19x19": ("19",), "19x19+10x10": ("19", "10"), "effnet-10x10": ("e10",)}  # layer -> feature caches
EXCLUDED = {"cair-heldout": {"cair", "dfire-sample"}, "cair-normals-in": {"dfire-sample"}}


class Cache:
    """The cached views: uint8 features of the layer's map(s), per-cell targets, (photo, view, fire, smoke), and photos."""

    def __init__(self, data: Path, layer: str = "10x10") -> None:
        self.layer = layer
        self.grid, self.channels = SHAPES[layer]
        maps = [np.load(extract_all(data, layer=k)) for k in CACHES[layer]]
        self.feats = [z["feats"] for z in maps]
        self.scales = [float(z["scale"]) for z in maps]
        self.cells = maps[0]["cells"]
        self.meta = maps[0]["meta"]
        for z in maps[1:]:
            assert np.array_equal(z["meta"], self.meta), "the feature caches hold different views: delete and re-extract"
        self.photos = photos_of_split(data)
        paths = [str(p.path.relative_to(data)) for p in self.photos]
        assert paths == list(maps[0]["paths"]), "split.json changed since the features were extracted: delete features/"

    def targets(self, idx: np.ndarray) -> np.ndarray:
        """[n, grid, grid, 4]: cell fire, cell smoke, image fire, image smoke."""
        img = np.broadcast_to(self.meta[idx, 2:4][:, None, None, :], (len(idx), self.grid, self.grid, 2))
        return np.concatenate([self.cells[idx].astype(np.float32), img.astype(np.float32)], axis=-1)

    def x(self, idx: np.ndarray) -> np.ndarray:
        maps = [f[idx].astype(np.float32) * s for f, s in zip(self.feats, self.scales)]
        return maps[0] if len(maps) == 1 else stack(maps[0], maps[1])

    def select(self, split: str, sources_out: set[str], whole_only: bool) -> np.ndarray:
        keep = [
            k for k, (i, v, *_) in enumerate(self.meta)
            if self.photos[i].split == split and self.photos[i].source not in sources_out and (v == 0 or not whole_only)
        ]
        return np.array(keep, dtype=np.int64)


def _batches(cache: Cache, idx: np.ndarray, batch: int, seed: int) -> Any:
    import keras

    class Views(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(idx)

        def __len__(self) -> int:
            return int(np.ceil(len(idx) / batch))

        def __getitem__(self, n: int) -> tuple[np.ndarray, np.ndarray]:
            sel = np.sort(self.order[n * batch : (n + 1) * batch])
            return cache.x(sel), cache.targets(sel)

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(idx)

    return Views()


def train(cache: Cache, variant: str, epochs: int = 20, hidden: int = 48, context: bool = False) -> tuple[Any, dict[str, Any]]:
    """The head trained on the 'train' split of the variant's sources (all views), fixed seeds."""
    import keras
    import tensorflow as tf

    from training.fire.head import build_head, mil_loss

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    tr = cache.select("train", EXCLUDED[variant], whole_only=False)
    va = cache.select("val", EXCLUDED[variant], whole_only=True)
    head = build_head(hidden, grid=cache.grid, channels=cache.channels, context=context)
    steps = epochs * int(np.ceil(len(tr) / 64))
    head.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.05)), loss=mil_loss)
    t0 = time.time()
    hist = head.fit(_batches(cache, tr, 64, SEED), validation_data=(cache.x(va), cache.targets(va)), epochs=epochs, verbose=2)
    y = cache.meta[tr, 2:4]
    return head, {
        "variant": variant, "excluded_sources": sorted(EXCLUDED[variant]), "train_views": int(len(tr)),
        "train_fire_views": int((y[:, 0] == 1).sum()), "train_smoke_views": int((y[:, 1] == 1).sum()),
        "val_photos": int(len(va)), "layer": cache.layer, "epochs": epochs, "hidden": hidden, "context": context, "params": int(head.count_params()),
        "seconds": round(time.time() - t0, 1),
        "loss": [round(v, 4) for v in hist.history["loss"]], "val_loss": [round(v, 4) for v in hist.history["val_loss"]],
    }


def photo_rows(cache: Cache, head: Any, idx: np.ndarray) -> list[dict[str, Any]]:
    """Per photo (whole view): the best cell's fire and smoke probability, as the runtime pools it."""
    pooled = np.concatenate([  # in chunks: the whole-view features of every photo at 19 x 19 x 1152 are ~7 GB as float32
        (1 / (1 + np.exp(-head.predict(cache.x(idx[k : k + 256]), batch_size=64, verbose=0)))).max(axis=(1, 2))
        for k in range(0, len(idx), 256)
    ])
    rows = []
    for k, (fs, ss) in zip(idx, pooled):
        p = cache.photos[cache.meta[k, 0]]
        rows.append({"source": p.source, "split": p.split, "fire": p.fire, "smoke": p.smoke,
                     "folder": p.path.parent.name, "fs": float(fs), "ss": float(ss)})
    return rows


def roc(rows: list[dict[str, Any]], cls: str) -> dict[str, Any] | None:
    """ROC AUC of the best cell's score and the recall at 1-10 % false positives; negatives: photos with neither label."""
    key = "fs" if cls == "fire" else "ss"
    pos = np.array([r[key] for r in rows if r[cls] == 1])
    neg = np.array([r[key] for r in rows if r["fire"] == 0 and r["smoke"] in (0, UNKNOWN)])
    if not len(pos) or not len(neg):
        return None
    auc = float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
    return {"auc": round(auc, 3), **{f"recall_at_fpr_{f}": round(float((pos > np.quantile(neg, 1 - f)).mean()), 3) for f in (0.01, 0.03, 0.05, 0.1)}}


def per_photo(cache: Cache, head: Any, variant: str, threshold_without: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Thresholds on validation (without `threshold_without`'s photos), then precision/recall per set; unseen sources
    named `unseen:`."""
    val = photo_rows(cache, head, cache.select("val", EXCLUDED[variant], whole_only=True))
    everything = photo_rows(cache, head, np.array([k for k, m in enumerate(cache.meta) if m[1] == 0]))
    return figures_of_rows(val, everything, variant, threshold_without)


def figures_of_rows(
    val: list[dict[str, Any]], everything: list[dict[str, Any]], variant: str, threshold_without: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`per_photo`'s figures from per-photo rows (`photo_rows`' keys), however the scores were taken."""
    excluded = EXCLUDED[variant]
    pool = [r for r in val if r["source"] not in threshold_without]
    chosen = {k: choose_threshold(pool, k) for k in ("fire", "smoke")}
    thr = {k: v[0] for k, v in chosen.items()}
    sets: dict[str, list[dict]] = {"val": val}
    for r in everything:
        seen = r["source"] not in excluded and r["split"] != "heldout"
        if r["split"] == "val" and seen:
            sets.setdefault(f"val:{r['source']}", []).append(r)
        elif not seen or (r["source"] == "cair" and r["split"] == "val"):
            name = f"unseen:{r['source']}" if r["source"] in excluded else f"unseen-photos:{r['source']}"
            sets.setdefault(name, []).append(r)
            if r["fire"] == 0 and r["smoke"] in (0, UNKNOWN):
                sets.setdefault(f"{name}/{r['folder']}", []).append(r)
    return {
        "thresholds": thr, "threshold_val_fpr_limit": {k: v[1] for k, v in chosen.items()},
        "threshold_pool": {"photos": len(pool), "without": sorted(threshold_without)},
        "per_photo": {name: {k: _pr(sel, k, thr[k]) for k in ("fire", "smoke")} for name, sel in sets.items()},
        "roc": {name: {k: roc(sel, k) for k in ("fire", "smoke")} for name, sel in sets.items() if "/" not in name},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/data/fire"))
    ap.add_argument("--variant", choices=sorted(EXCLUDED), default="cair-heldout")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=48)
    ap.add_argument("--context", action="store_true", help="give each cell the whole map's average too (the scene)")
    ap.add_argument("--layer", choices=sorted(SHAPES), default="10x10", help="the feature map(s) the head reads (v2: 10x10)")
    ap.add_argument("--out", type=Path, default=None, help="export the head here (default: measure only)")
    ap.add_argument("--save-keras", type=Path, default=None, help="keep the trained head as a Keras model too (training.fire.finetune --head-from starts from it)")
    ap.add_argument("--threshold-without", nargs="*", default=[], metavar="SOURCE",
                    help="choose the thresholds on the validation photos of the other sources only")
    args = ap.parse_args()
    cache = Cache(args.data, args.layer)
    head, training = train(cache, args.variant, args.epochs, args.hidden, args.context)
    if args.save_keras is not None:
        head.save(args.save_keras)
    if args.out is not None:  # first: the measuring below must not cost the trained head
        from training.fire.head import export_tflite

        training["head_bytes"] = export_tflite(head, str(args.out))
    figures = {"training": training, **per_photo(cache, head, args.variant, frozenset(args.threshold_without))}
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
