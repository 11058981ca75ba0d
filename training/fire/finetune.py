"""EfficientNet-Lite0 and the fire/smoke head trained together, end to end: tried at stop 30, not shipped.

Why it was tried: v3 trains only the head on the frozen ImageNet backbone's features
(training.fire.train_head), and on cair, never seen, it stops at 0.83 fire recall with 12 % false
alarms. The swimmer centre net (stop 29) showed fine-tuning the whole EfficientNet-Lite0 beating a
head on frozen features by a wide margin.

What it found (training/fire/figures_finetune.json, MODEL_CARD_v3.md): fine-tuning fits the training
sources better (validation fire AUC 0.96 -> 0.98) and reaches cair, never seen, no better (AUC 0.91
-> 0.90; recall at 5 % false positives 0.73 -> 0.66); starting from the frozen-feature head with a
small learning rate (`--head-from`, linear probing then fine-tuning) did worse (0.85). For a source
unlike the training photos the ImageNet features are worth more untouched; v3 stays.

Same shapes as v3, so the runtime would need no change (`edge_models.fire_head`, an EfficientNet
backbone path): the backbone is exported int8 (uint8 RGB 320 x 320 in, the 10 x 10 x 1280 map out)
and the head as v3's float TFLite. Views and labels are the feature cache's (`training.fire.features`:
the whole photo squeezed to 320 x 320 as a camera frame, a mirrored jittered copy, zoom crops around
boxes), drawn anew every step; the loss is v3's (`head.mil_loss`).

Run (training venv, extra `train`; DATA prepared by `make train-fire`):
    PYTHONPATH=. /work/data/fire/venv-train/bin/python -m training.fire.finetune --variant cair-heldout --epochs 8
It exports the two files (under DATA) and measures them per photo (`--export-only`, `--measure-only`
skip steps); `training.fire.evaluate_head --layer effnet-10x10 --backbone ... --head ...` measures them per alarm.
Thresholds are chosen on the validation split only (`evaluate.choose_threshold`), as for v3.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from training.fire.dataset import Photo
from training.fire.evaluate_head import read_photo
from training.fire.features import labels_of_view, photos_of_split, render, views_of
from training.fire.train_head import EXCLUDED

SIDE, GRID, CHANNELS = 320, 10, 1280
SEED = 16
LONGEST = 800  # photos are kept decoded at this size: zoom crops stay sharp enough, ~4 GB for every training photo


def training_photos(data: Path, variant: str) -> list[Photo]:
    """The 'train' split of the variant's sources (the unseen ones never enter, not even int8 calibration)."""
    return [p for p in photos_of_split(data) if p.split == "train" and p.source not in EXCLUDED[variant]]


def view(photo: Photo, bgr: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random view of a photo: RGB SIDE x SIDE and its targets [GRID, GRID, 4] (cell fire, cell smoke, image fire, image smoke)."""
    views = views_of(photo, rng, augment=True)
    crop, flip, gain, offset = views[int(rng.integers(len(views)))]
    rgb = cv2.cvtColor(cv2.resize(render(bgr, crop, flip, gain, offset), (SIDE, SIDE), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    fire, smoke, cells = labels_of_view(photo, crop, flip, GRID)
    image = np.broadcast_to(np.array([fire, smoke], np.float32), (GRID, GRID, 2))
    return rgb, np.concatenate([cells.astype(np.float32), image], axis=-1)


def build_model(hidden: int = 48, head_from: Path | None = None) -> Any:
    """ImageNet backbone and a new head, or (`head_from`) the head already trained on the frozen backbone's features:
    fine-tuning then starts from a head that agrees with the features, so the first steps do not tear them up
    (linear probing, then fine-tuning; Kumar et al. 2022 found it keeps more of the pretrained features' reach)."""
    import keras

    from training.fire.effnet_lite import build
    from training.fire.head import build_head

    backbone = build(SIDE)
    head = keras.models.load_model(head_from, compile=False) if head_from else build_head(hidden, grid=GRID, channels=CHANNELS)
    inp = keras.Input((SIDE, SIDE, 3), name="scaled_rgb")
    return keras.Model(inp, head(backbone(inp)), name="fire_smoke_v4")


def train(data: Path, variant: str, epochs: int, steps: int, batch: int, lr: float, keep: Path, head_from: Path | None = None) -> dict[str, Any]:
    """Fine-tunes backbone and head together (Adam, cosine decay, fixed seeds); saved to `keep` after every epoch."""
    import keras
    import tensorflow as tf

    from training.fire.head import mil_loss

    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    photos = training_photos(data, variant)
    t0 = time.time()
    images = [read_photo(str(p.path), LONGEST) for p in photos]  # kept decoded: every step draws views from them
    usable = [k for k, b in enumerate(images) if b is not None]
    print(f"{len(usable)} training photos decoded in {time.time() - t0:.0f} s", flush=True)
    model = build_model(head_from=head_from)
    opt = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, epochs * steps, alpha=0.05))

    @tf.function
    def step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = mil_loss(y, model(x, training=True)) + tf.add_n(model.losses)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    losses, t_train = [], time.time()
    for epoch in range(epochs):
        t1, total = time.time(), 0.0
        for _ in range(steps):
            picks = [usable[int(k)] for k in rng.integers(0, len(usable), batch)]
            pairs = [view(photos[k], images[k], rng) for k in picks]  # type: ignore[arg-type]
            x = (np.stack([p[0] for p in pairs]).astype(np.float32) - 127.5) / 127.5
            total += float(step(x, np.stack([p[1] for p in pairs])))
        losses.append(round(total / steps, 4))
        keep.parent.mkdir(parents=True, exist_ok=True)
        model.save(keep)
        print(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f} ({time.time() - t1:.0f} s)", flush=True)
    return {"variant": variant, "excluded_sources": sorted(EXCLUDED[variant]), "train_photos": len(usable), "epochs": epochs,
            "steps_per_epoch": steps, "batch": batch, "lr": lr, "seed": SEED, "head_from": str(head_from) if head_from else None, "loss": losses, "seconds": round(time.time() - t_train)}


def calibration(data: Path, variant: str, count: int = 160) -> list[np.ndarray]:
    """Whole training photos (RGB, squeezed as the station does) of the variant's sources, to calibrate int8."""
    photos = training_photos(data, variant)
    rng = np.random.default_rng(SEED + 1)
    out = []
    for k in rng.choice(len(photos), size=min(count, len(photos)), replace=False):
        bgr = cv2.imread(str(photos[int(k)].path))
        if bgr is not None:
            out.append(cv2.cvtColor(cv2.resize(bgr, (SIDE, SIDE), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    return out


def export(data: Path, variant: str, keep: Path, backbone_out: Path, head_out: Path) -> dict[str, Any]:
    """The backbone int8 (as v3's) and the head float (as v3's), with sizes and sha256."""
    import keras

    from training.fire.effnet_lite import export_int8
    from training.fire.head import export_tflite

    model = keras.models.load_model(keep, compile=False)
    backbone, head = model.layers[1], model.layers[2]
    sizes = {"backbone_bytes": export_int8(backbone, backbone_out, calibration(data, variant)), "head_bytes": export_tflite(head, str(head_out))}
    return {**sizes, **{f"{k}_sha256": hashlib.sha256(p.read_bytes()).hexdigest() for k, p in (("backbone", backbone_out), ("head", head_out))}}


def measure(data: Path, variant: str, backbone: Path, head: Path) -> dict[str, Any]:
    """Per photo through the station's runtime (the whole photo, its best cell per class): thresholds chosen on
    the validation split, then precision/recall and ROC per set, unseen sources named `unseen:` (as v3's
    `train_head.per_photo`)."""
    from edge_models.fire_head import BackboneFireSmoke
    from training.fire.train_head import figures_of_rows

    det = BackboneFireSmoke.load(backbone, head_path=head, layer="effnet-10x10")
    rows = []
    for p in photos_of_split(data):
        if p.split == "train" and p.source not in EXCLUDED[variant]:
            continue
        bgr = read_photo(str(p.path))
        if bgr is None:
            continue
        cells = det.cells(bgr)
        rows.append({"source": p.source, "split": p.split, "fire": p.fire, "smoke": p.smoke, "folder": p.path.parent.name,
                     "fs": float(cells[..., 0].max()), "ss": float(cells[..., 1].max())})
    val = [r for r in rows if r["split"] == "val" and r["source"] not in EXCLUDED[variant]]
    return figures_of_rows(val, rows, variant)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/data/fire"))
    ap.add_argument("--variant", choices=sorted(EXCLUDED), default="cair-heldout")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--keras", type=Path, default=None, help="where the Keras model is kept (default: DATA/finetune_VARIANT.keras)")
    ap.add_argument("--backbone-out", type=Path, default=None, help="default: DATA/finetuned_VARIANT_backbone.tflite")
    ap.add_argument("--head-out", type=Path, default=None, help="default: DATA/finetuned_VARIANT_head.tflite")
    ap.add_argument("--head-from", type=Path, default=None, help="start from this Keras head (train_head --save-keras) instead of a new one")
    ap.add_argument("--export-only", action="store_true", help="export the kept model without training")
    ap.add_argument("--measure-only", action="store_true", help="measure the exported files without training or exporting")
    a = ap.parse_args()
    keep = a.keras or a.data / f"finetune_{a.variant}.keras"
    a.backbone_out = a.backbone_out or a.data / f"finetuned_{a.variant}_backbone.tflite"
    a.head_out = a.head_out or a.data / f"finetuned_{a.variant}_head.tflite"
    record = {} if a.export_only or a.measure_only else train(a.data, a.variant, a.epochs, a.steps, a.batch, a.lr, keep, a.head_from)
    if not a.measure_only:
        record["exported"] = export(a.data, a.variant, keep, a.backbone_out, a.head_out)
    record.update(measure(a.data, a.variant, a.backbone_out, a.head_out))
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
