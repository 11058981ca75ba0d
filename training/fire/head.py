"""The fire/smoke head on the SSD's frozen MobileNet-V1 features: per-cell scores, pooled by max.

Why this shape: the backbone (trained on COCO) already tells a flame from a red car far better
than a small network from scratch can learn on a few thousand photos; the head only has to read
it. 1x1 convolutions score each of the 10 x 10 cells (a cell sees ~30 x 30 px of the 300 x 300
input with a much larger receptive field), and the image's score per class is its best cell's
(multiple-instance learning: an image label says "somewhere"; YOLO boxes, where a source has
them, also supervise the cells directly). The max is what the runtime takes too, and the cells
above threshold are the evidence boxes.

The same head reads the finer 19 x 19 x 384 map (`Conv2d_11_pointwise`, v3), alone or with the
10 x 10 map repeated to 19 x 19 beside it for context (`training.fire.train_head --layer`).

Targets are packed as [B, grid, grid, 4]: cell fire, cell smoke, image fire, image smoke (each 1, 0
or -1 = unknown, masked out of the loss).
"""

from __future__ import annotations

from typing import Any

GRID, CHANNELS = 10, 768
CELL_WEIGHT = 0.3  # the box supervision: a helper, the image label is what is measured
SMOKE_POS_WEIGHT = 2.0


def build_head(hidden: int = 48, dropout: float = 0.3, grid: int = GRID, channels: int = CHANNELS, context: bool = False) -> Any:
    """Feature map [grid, grid, channels] (dequantized ReLU6 values) -> per-cell logits [grid, grid, 2].
    `context`: each cell's hidden units also get the whole map's average (the scene: an orange sky
    at sunset, a lit street), so a cell can be judged against its frame; the input stays the map."""
    import keras
    from keras import layers

    inp = keras.Input((grid, grid, channels), name="features")
    x = layers.SpatialDropout2D(0.1)(inp)
    x = layers.Conv2D(hidden, 1, activation=None if context else "relu", kernel_regularizer=keras.regularizers.l2(1e-4))(x)
    if context:
        scene = layers.Conv2D(hidden, 1, kernel_regularizer=keras.regularizers.l2(1e-4))(layers.GlobalAveragePooling2D(keepdims=True)(inp))
        x = layers.ReLU()(layers.Add()([x, layers.UpSampling2D(grid)(scene)]))
    x = layers.Dropout(dropout)(x)
    out = layers.Conv2D(2, 1, name="cell_logits")(x)
    return keras.Model(inp, out, name="fire_smoke_head")


def _bce(y: Any, logit: Any) -> Any:
    import tensorflow as tf

    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.clip_by_value(y, 0.0, 1.0), logits=logit)


def mil_loss(y_true: Any, logits: Any) -> Any:
    """Image loss on the best cell per class plus the cell loss where boxes say, unknowns masked."""
    import tensorflow as tf

    cell_y, img_y = y_true[..., :2], y_true[:, 0, 0, 2:]
    pooled = tf.reduce_max(logits, axis=(1, 2))
    weight = 1.0 + tf.clip_by_value(img_y, 0.0, 1.0) * tf.constant([0.0, SMOKE_POS_WEIGHT - 1.0])
    img_mask = tf.cast(img_y >= 0, tf.float32)
    img_loss = tf.reduce_sum(_bce(img_y, pooled) * img_mask * weight) / tf.maximum(tf.reduce_sum(img_mask), 1.0)
    cell_mask = tf.cast(cell_y >= 0, tf.float32)
    cell_loss = tf.reduce_sum(_bce(cell_y, logits) * cell_mask) / tf.maximum(tf.reduce_sum(cell_mask), 1.0)
    return img_loss + CELL_WEIGHT * cell_loss


def export_tflite(head: Any, path: str) -> int:
    """The head as TFLite: input [1, grid, grid, channels] float32 (v2: 10 x 10 x 768), output
    [1, grid, grid, 2] per-cell probabilities (fire, smoke); float weights (a few hundred KB, and
    no second quantization on top of the backbone's)."""
    import keras
    import tensorflow as tf

    inp = keras.Input(tuple(head.input_shape[1:]), batch_size=1, name="features")
    out = keras.layers.Activation("sigmoid", name="cell_probs")(head(inp, training=False))
    conv = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, out))
    data = conv.convert()
    with open(path, "wb") as f:
        f.write(data)
    return len(data)
