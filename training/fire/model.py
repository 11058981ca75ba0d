"""The verifier network: a small depthwise-separable CNN, 96x96 RGB in, fire and smoke out.

Why this shape: trained from scratch on a few thousand photos in minutes on two CPU cores, and
cheap on a Pi (one invoke ~ a few ms). Fire and smoke are two independent sigmoid outputs, so a
photo can be both, and a source that labels only fire leaves the smoke output untrained on it
(the masked loss below).
"""

from __future__ import annotations

from typing import Any


def build_model(size: int = 96) -> Any:
    import keras
    from keras import layers

    inp = keras.Input((size, size, 3), name="rgb")  # 0..255
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inp)
    x = layers.Conv2D(24, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    for filters, stride in ((32, 1), (48, 2), (48, 1), (96, 2), (96, 1), (160, 2), (160, 1)):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU(6.0)(x)
        x = layers.Conv2D(filters, 1, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU(6.0)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.25)(x)
    out = layers.Dense(2, activation="sigmoid", name="fire_smoke")(x)
    return keras.Model(inp, out, name="fire_smoke_v1")


SMOKE_POS_WEIGHT = 3.0  # smoke photos are ~7 % of the samples; without this the smoke output learns "no"


def masked_bce(y_true: Any, y_pred: Any) -> Any:
    """Binary cross-entropy over the known labels only (-1 = not labelled by this source), smoke
    positives weighted up."""
    import tensorflow as tf

    mask = tf.cast(y_true >= 0, tf.float32)
    y = tf.clip_by_value(y_true, 0.0, 1.0)
    p = tf.clip_by_value(y_pred, 1e-6, 1 - 1e-6)
    bce = -(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p))
    weight = 1.0 + y * tf.constant([0.0, SMOKE_POS_WEIGHT - 1.0])
    return tf.reduce_sum(bce * mask * weight) / tf.maximum(tf.reduce_sum(mask), 1.0)


def augment(seed: int) -> Any:
    """A tf.data map: flips, a random zoom-crop, brightness, contrast and saturation (never hue:
    shifting hue would turn a red car into a flame)."""
    import tensorflow as tf

    def fn(x: Any, y: Any) -> tuple[Any, Any]:
        x = tf.cast(x, tf.float32)
        x = tf.image.random_flip_left_right(x)
        scale = tf.random.uniform((), 0.8, 1.0)
        side = tf.cast(scale * 96.0, tf.int32)
        x = tf.image.random_crop(x, (side, side, 3))
        x = tf.image.resize(x, (96, 96))
        x = tf.image.random_brightness(x, 30.0)
        x = tf.image.random_contrast(x, 0.75, 1.25)
        x = tf.image.random_saturation(x, 0.75, 1.25)
        return tf.clip_by_value(x, 0.0, 255.0), y

    return fn


def export_tflite(model: Any, path: str) -> int:
    """Convert to TFLite with int8 weights (dynamic-range quantization), float input/output."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    data = conv.convert()
    with open(path, "wb") as f:
        f.write(data)
    return len(data)
