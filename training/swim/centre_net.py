"""A person detector for water trained end to end: EfficientNet-Lite0 with a centre-point head.

Why: stop 28 measured that the COCO SSD, re-scored (swimmer head, mirrored tiles, joined tilings,
a crop verifier), keeps trading each extra swimmer found for as many false boxes; its features
were frozen. Here the ImageNet EfficientNet-Lite0 (training/fire/effnet_lite.py) is fine-tuned on
the lifeguard photos with a small feature pyramid (strides 8, 16, 32 merged at stride 8) and a
CenterNet head: per 8 px cell a person-centre heat, the box's log width and height, and the
centre's offset in the cell. Stride 8 on 320 px tiles is where a 20-60 px swimmer still covers
several cells; the SSD's finest map is stride 16 on a 300 px squeeze.

Run (training venv, extra `train`; photos as bench/regions.py's LIFEGUARD_DATA):
    PYTHONPATH=. /work/data/fire/venv-train/bin/python -m training.swim.centre_net --epochs 10
(`--resume MODEL --lr 4e-4 --epochs 6` goes on training a saved model: tried at stop 29, not shipped,
see the model card.)
Writes edge_models/models/swimmer_centre_v1.tflite (int8, uint8 RGB in), training/swim/figures_centre.json
and the model card edge_models/models/SWIMMER_CENTRE.md. Photos held back by origin (training.swim.dataset.held_back)
choose the threshold; valid is only measured; test is never read.
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

from training.swim.card import write_centre
from training.swim.dataset import held_back, yolo_people

SIDE, STRIDE = 320, 8
GRID = SIDE // STRIDE
VISIBLE = 0.4  # a person less visible in a crop is neither asked for nor punished there
SCALES = (0.4, 1.3)  # crops taken at these scales of the native photo (log-uniform)
SEED = 15
OUT = Path(__file__).resolve().parents[2] / "edge_models" / "models" / "swimmer_centre_v1.tflite"
FIGURES = Path(__file__).resolve().parent / "figures_centre.json"


def photos(data: Path, split: str) -> list[tuple[Path, np.ndarray]]:
    """(photo, people as x1 y1 x2 y2 normalised) of a split (YOLO labels); photos without a label file are left out."""
    labels = [(path, data / split / "labels" / (path.stem + ".txt")) for path in sorted((data / split / "images").glob("*"))]
    return [(path, yolo_people(label).astype(np.float32)) for path, label in labels if label.exists()]


def sample(bgr: np.ndarray, people: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A SIDE x SIDE RGB crop at a random scale (mostly around a person), its people in crop pixels
    (clipped) and the fraction of each inside it."""
    h, w = bgr.shape[:2]
    s = float(np.exp(rng.uniform(np.log(SCALES[0]), np.log(SCALES[1]))))
    sw, sh = max(SIDE, int(w * s)), max(SIDE, int(h * s))
    img = cv2.resize(bgr, (sw, sh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    px = people * np.array([sw, sh, sw, sh], np.float32)
    if len(px) and rng.random() < 0.7:
        p = px[rng.integers(len(px))]
        cx, cy = rng.uniform(p[0], p[2]), rng.uniform(p[1], p[3])
        x0, y0 = int(np.clip(cx - rng.uniform(0, SIDE), 0, sw - SIDE)), int(np.clip(cy - rng.uniform(0, SIDE), 0, sh - SIDE))
    else:
        x0, y0 = int(rng.integers(0, sw - SIDE + 1)), int(rng.integers(0, sh - SIDE + 1))
    crop = img[y0 : y0 + SIDE, x0 : x0 + SIDE]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        px = np.stack([sw - px[:, 2], px[:, 1], sw - px[:, 0], px[:, 3]], 1) if len(px) else px
        x0 = sw - SIDE - x0
    b = px - np.array([x0, y0, x0, y0], np.float32)
    c = np.clip(b, 0, SIDE)
    full = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-6)
    vis = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1]) / full
    rgb = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_BGR2RGB).astype(np.float32)
    rgb = np.clip((rgb - 127.5) * rng.uniform(0.75, 1.25) + 127.5 + rng.uniform(-25, 25), 0, 255)
    return rgb.astype(np.uint8), c, vis


def encode(boxes: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CenterNet targets on the GRID: gaussian heat at each visible person's centre, a loss weight
    for the heat (0 over partly visible people), log size and offset at the centre cell, and where
    they apply."""
    heat = np.zeros((GRID, GRID), np.float32)
    weight = np.ones((GRID, GRID), np.float32)
    geom = np.zeros((GRID, GRID, 4), np.float32)
    mask = np.zeros((GRID, GRID), np.float32)
    ys, xs = np.mgrid[0:GRID, 0:GRID].astype(np.float32)
    for (x1, y1, x2, y2), v in zip(boxes, vis):
        w, h = x2 - x1, y2 - y1
        if w < 2 or h < 2:
            continue
        if v < VISIBLE:
            weight[int(y1 // STRIDE) : int(np.ceil(y2 / STRIDE)), int(x1 // STRIDE) : int(np.ceil(x2 / STRIDE))] = 0.0
            continue
        cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
        i, j = min(GRID - 1, int(cy)), min(GRID - 1, int(cx))
        sigma = max(0.7, min(w, h) / STRIDE / 6)
        heat = np.maximum(heat, np.exp(-((xs - j) ** 2 + (ys - i) ** 2) / (2 * sigma**2)))
        heat[i, j] = 1.0
        geom[i, j] = (np.log(w / STRIDE), np.log(h / STRIDE), cx - j, cy - i)
        mask[i, j] = 1.0
    return heat[..., None], weight[..., None], geom, mask[..., None]


def build_model() -> Any:
    """Backbone taps at strides 8, 16, 32 -> one 64-channel stride-8 map -> heat and geometry."""
    import keras
    from keras import layers

    from training.fire.effnet_lite import build

    backbone = build(SIDE, taps=(2, 4, 6))
    inp = keras.Input((SIDE, SIDE, 3), name="rgb_scaled")
    c8, c16, c32 = backbone(inp)

    def lateral(x: Any) -> Any:
        return layers.Conv2D(64, 1, use_bias=False)(x)

    p = layers.UpSampling2D(2)(lateral(c32))
    p = layers.UpSampling2D(2)(layers.Add()([lateral(c16), p]))
    p = layers.Add()([lateral(c8), p])
    for _ in range(2):
        p = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(p)
        p = layers.ReLU(6.0)(layers.BatchNormalization()(layers.Conv2D(64, 1, use_bias=False)(p)))
    heat = layers.Conv2D(1, 1, activation="sigmoid", bias_initializer=keras.initializers.Constant(-2.19), name="heat")(p)
    geom = layers.Conv2D(4, 1, name="geom")(p)
    return keras.Model(inp, [heat, geom], name="swimmer_centre")


def losses(heat: Any, geom: Any, t_heat: Any, t_weight: Any, t_geom: Any, t_mask: Any) -> Any:
    """CenterNet's penalty-reduced focal loss on the heat, L1 on size and offset at the centres."""
    import tensorflow as tf

    p = tf.clip_by_value(heat, 1e-4, 1 - 1e-4)
    pos = tf.cast(t_heat >= 1.0, tf.float32)
    pos_loss = -tf.math.log(p) * (1 - p) ** 2 * pos
    neg_loss = -tf.math.log(1 - p) * p**2 * (1 - t_heat) ** 4 * (1 - pos) * t_weight
    n = tf.maximum(tf.reduce_sum(pos), 1.0)
    focal = (tf.reduce_sum(pos_loss) + tf.reduce_sum(neg_loss)) / n
    off = tf.sigmoid(geom[..., 2:])
    reg = tf.reduce_sum((tf.abs(geom[..., :2] - t_geom[..., :2]) * 0.5 + tf.abs(off - t_geom[..., 2:])) * t_mask) / n
    return focal + reg


def batches(rows: list[tuple[Path, np.ndarray]], batch: int, steps: int, rng: np.random.Generator) -> Any:
    cache: dict[Path, np.ndarray] = {}
    for _ in range(steps):
        items = [rows[int(k)] for k in rng.integers(0, len(rows), batch)]
        xs, hs, ws, gs, ms = [], [], [], [], []
        for path, people in items:
            if path not in cache:
                cache[path] = cv2.imread(str(path))
            rgb, boxes, vis = sample(cache[path], people, rng)
            h, w, g, m = encode(boxes, vis)
            xs.append(rgb)
            hs.append(h)
            ws.append(w)
            gs.append(g)
            ms.append(m)
        yield (np.stack(xs).astype(np.float32) - 127.5) / 127.5, np.stack(hs), np.stack(ws), np.stack(gs), np.stack(ms)


def train(data: Path, epochs: int, steps: int, batch: int, lr: float, keep: Path, resume: Path | None = None, negatives: Path | None = None) -> Any:
    """Fine-tunes the whole network (from ImageNet, or from a saved model to go on with); the model
    is saved to `keep` after every epoch. `negatives`: a file listing photos with nobody in them
    (dry ground, streets), drawn like the others with no person to find."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    rows = [r for r in photos(data, "train") if not held_back(r[0].stem)]
    if negatives is not None:
        rows += [(Path(line), np.zeros((0, 4), np.float32)) for line in negatives.read_text().splitlines() if line.strip()]
    model = keras.models.load_model(resume) if resume else build_model()
    schedule = keras.optimizers.schedules.CosineDecay(lr, epochs * steps, warmup_target=None)
    opt = keras.optimizers.Adam(schedule)

    @tf.function
    def step(x: Any, th: Any, tw: Any, tg: Any, tm: Any) -> Any:
        with tf.GradientTape() as tape:
            heat, geom = model(x, training=True)
            loss = losses(heat, geom, th, tw, tg, tm)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    for epoch in range(epochs):
        t0, total = time.time(), 0.0
        for x, th, tw, tg, tm in batches(rows, batch, steps, rng):
            total += float(step(x, th, tw, tg, tm))
        keep.parent.mkdir(parents=True, exist_ok=True)
        model.save(keep)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / steps:.3f} ({time.time() - t0:.0f} s, {len(rows)} photos)", flush=True)
    return model


def calibration(data: Path, count: int = 160) -> list[np.ndarray]:
    """RGB crops of training photos (held-back ones excluded) to calibrate the int8 export."""
    rng = np.random.default_rng(SEED + 1)
    rows = [r for r in photos(data, "train") if not held_back(r[0].stem)]
    out = []
    for k in rng.choice(len(rows), size=min(count, len(rows)), replace=False):
        path, people = rows[int(k)]
        out.append(sample(cv2.imread(str(path)), people, rng)[0])
    return out


def export(data: Path, keep: Path, out: Path = OUT) -> dict[str, Any]:
    """The trained model as full-integer TFLite (uint8 RGB in), with its size and sha256."""
    import keras

    from training.fire.effnet_lite import export_int8

    size = export_int8(keras.models.load_model(keep), out, calibration(data))
    return {"model": out.name, "bytes": size, "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}


def measure(exported: dict[str, Any], epochs: int, steps: int, batch: int, train_s: float | None) -> dict[str, Any]:
    """The shipped file measured through the station's runtime (bench.regions_thresholds: 320 px
    tiles, merged across tiles), alone and with the COCO SSD's walkers (`centre_with_coco`): the
    threshold chosen on held-back photos, valid measured once; and the false boxes on dry ground at that
    threshold (the empty vtest plaza, and the ground textures kept aside if GROUND_DATA holds them)."""
    from bench.regions_thresholds import GROUND_DATA, run
    from training.swim.train import THRESHOLD_RULE, choose

    def table(f: dict[float, tuple[float, float]]) -> dict[str, list[float]]:
        return {f"{k:.2f}": [round(r, 3), round(n, 2)] for k, (r, n) in f.items()}

    out: dict[str, Any] = {
        "model": {**exported, "input": f"{SIDE}x{SIDE} uint8 RGB", "stride": STRIDE, "backbone": "EfficientNet-Lite0 (ImageNet, fine-tuned)"},
        "training": {"epochs": epochs, "steps_per_epoch": steps, "batch": batch, "seed": SEED, "scales": list(SCALES),
                     "seconds": None if train_s is None else round(train_s)},
        "threshold_rule": THRESHOLD_RULE,
        "measure": "recall and false boxes per photo over 320 px tiles (25 % overlap), merged across tiles, IoU >= 0.3",
        "chosen_threshold_on_held_back": {}, "held_back": {}, "valid": {}, "valid_at_chosen": {},
    }
    aside = (GROUND_DATA / "aside").is_dir()
    out["dry_at_chosen"] = {}
    for head in ("centre", "centre+coco"):
        held, valid = run("held", "320", head), run("valid", "320", head)
        t = choose(held)
        out["chosen_threshold_on_held_back"][head] = t
        out["held_back"][head], out["valid"][head] = table(held), table(valid)
        out["valid_at_chosen"][head] = [round(valid[t][0], 3), round(valid[t][1], 2)]
        out["dry_at_chosen"][head] = {"plaza": run("plaza", "320", head)[t][1],
                                      "ground": round(run("ground", "320", head)[t][1], 2) if aside else None}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/data/lifeguard/data"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--keras", type=Path, default=Path("/work/data/lifeguard/centre_net.keras"))
    ap.add_argument("--resume", type=Path, default=None, help="go on training this saved model (a new cosine schedule from --lr)")
    ap.add_argument("--negatives", type=Path, default=None, help="a file listing photos with nobody in them, trained on as such")
    ap.add_argument("--export-only", action="store_true", help="export the saved model without training")
    ap.add_argument("--measure-only", action="store_true", help="measure the shipped file again (after a change around it)")
    a = ap.parse_args()
    old = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    t0 = time.time()
    if not (a.export_only or a.measure_only):
        train(a.data, a.epochs, a.steps, a.batch, a.lr, a.keras, a.resume, a.negatives)
    train_s = time.time() - t0 if not (a.export_only or a.measure_only) else old.get("training", {}).get("seconds")
    if a.measure_only:
        exported = {k: old["model"][k] for k in ("model", "bytes", "sha256")}
        if hashlib.sha256(OUT.read_bytes()).hexdigest() != exported["sha256"]:
            raise SystemExit(f"{OUT} is not the file {FIGURES.name} describes: export it again")
    else:
        exported = export(a.data, a.keras)
    figures = measure(exported, a.epochs, a.steps, a.batch, train_s)
    figures["failures"] = old.get("failures", [])  # written by hand after looking at the misses
    figures["compare_valid"] = old.get("compare_valid", {})  # from bench.regions_thresholds valid 320 max
    if a.export_only or a.measure_only:  # not trained now: the file's training is the one on record
        figures["training"] = old.get("training", figures["training"])
    elif a.resume:  # the schedule in all: the saved model's own, then this one
        before = old.get("training", {})
        figures["training"].update({"epochs": before.get("epochs", 0) + a.epochs, "seconds": (before.get("seconds") or 0) + round(train_s or 0),
                                    "schedule": f"Adam, {before.get('epochs')} epochs with cosine decay from 1e-3, then {a.epochs} more "
                                                f"(`--resume`) with cosine decay from {a.lr:g}"})
    FIGURES.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n")
    write_centre(figures)
    print(json.dumps({"chosen": figures["chosen_threshold_on_held_back"], "valid_at_chosen": figures["valid_at_chosen"]}))


if __name__ == "__main__":
    main()
