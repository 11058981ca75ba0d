"""The swimmer head: per feature map a small 1x1 convolution scoring that map's anchors, plus a
learned weighting of the COCO background/person logits of each anchor.

Why 1x1 (per cell) and small: the backbone is frozen and fixed for the station, the head must cost
next to nothing beside the 35 ms invoke, and ~1000 photos do not support more than a few
thousand weights per map without learning the photos by heart.
"""

from __future__ import annotations

from edge_models.ssd_anchors import GRIDS
from edge_models.swimmer_head import LOGIT_CLASSES

CHANNELS = (384, 768, 384, 192, 192, 96)


def build(hidden: int = 32, l2: float = 1e-4, dropout: float = 0.2, full_logits: bool = False, context: bool = False):
    """The Keras head. Inputs: six float feature maps, logits [1917, 2] (or [1917, 91] with
    `full_logits`, sliced inside: the form exported for the station). Output: [1917] logits.
    `context`: on maps of 3 x 3 cells or more, a 3x3 convolution over the hidden units is added
    to them (residual), so a cell also sees its neighbours (a head in glittering water next to
    arms and a wake) for hidden x hidden x 9 weights a map."""
    import keras
    from keras import layers

    reg = keras.regularizers.l2(l2)
    maps = [keras.Input((g, g, c), name=f"map{i}") for i, ((g, _), c) in enumerate(zip(GRIDS, CHANNELS))]
    logits_in = keras.Input((1917, 91 if full_logits else len(LOGIT_CLASSES)), name="logits")
    logits = layers.Lambda(lambda t: t[:, :, : len(LOGIT_CLASSES)], name="slice")(logits_in) if full_logits else logits_in
    parts = []
    for i, (m, (g, a)) in enumerate(zip(maps, GRIDS)):
        h = layers.Conv2D(hidden, 1, activation="relu", kernel_regularizer=reg, name=f"hidden{i}")(m)
        if context and g >= 3:
            c = layers.Conv2D(hidden, 3, padding="same", activation="relu", kernel_regularizer=reg, name=f"context{i}")(h)
            h = layers.Add(name=f"with_context{i}")([h, c])
        h = layers.Dropout(dropout, name=f"drop{i}")(h)
        o = layers.Conv2D(a, 1, kernel_regularizer=reg, name=f"score{i}")(h)
        parts.append(layers.Reshape((g * g * a,), name=f"flat{i}")(o))
    feat = layers.Concatenate(axis=1, name="anchors")(parts)
    coco = layers.Reshape((1917,), name="coco_flat")(layers.Dense(1, name="coco")(logits))
    out = layers.Add(name="swimmer_logit")([feat, coco])
    return keras.Model([*maps, logits_in], out, name="swimmer_head")


def export(model, path) -> None:
    """The head as float32 TFLite with the station's inputs (full [1,1917,91] logits), sigmoid out."""
    import keras
    import tensorflow as tf

    context = any(layer.name.startswith("context") for layer in model.layers)
    station = build(hidden=model.get_layer("hidden0").filters, full_logits=True, context=context)
    for layer in model.layers:
        if layer.weights:
            station.get_layer(layer.name).set_weights(layer.get_weights())
    score = keras.layers.Activation("sigmoid", name="swimmer_score")(station.output)
    final = keras.Model(station.inputs, score)
    conv = tf.lite.TFLiteConverter.from_keras_model(final)
    path.write_bytes(conv.convert())
