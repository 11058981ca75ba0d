"""Which of the shared SSD's feature maps a fire/smoke head reads, and how they are put together.

Why more than one: v2 reads the 10 x 10 x 768 map (`Conv2d_13_pointwise`), where a cell is a
tenth of the frame and a small flame is a few pixels of it. The 19 x 19 x 384 map
(`Conv2d_11_pointwise`) comes out of the same invoke; `19x19+10x10` puts the coarse map,
repeated to 19 x 19 (nearest cell), beside it so each fine cell also sees its surroundings.
Training (`training/fire`) and the runtime (`fire_head`) build the head's input here, so the
two cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from edge_models.runtime import TfliteModel

Layer = Literal["10x10", "19x19", "19x19+10x10", "effnet-10x10"]
PREFIX = "FeatureExtractor/MobilenetV1/MobilenetV1/"
MAP10 = PREFIX + "Conv2d_13_pointwise/Relu6"  # [1, 10, 10, 768]
MAP19 = PREFIX + "Conv2d_11_pointwise/Relu6"  # [1, 19, 19, 384]
SHAPES: dict[str, tuple[int, int]] = {  # grid, channels
    "10x10": (10, 768), "19x19": (19, 384), "19x19+10x10": (19, 384 + 768),
    "effnet-10x10": (10, 1280),  # EfficientNet-Lite0 (ImageNet) at 320 x 320: its own backbone, the map is its output
}
OWN_BACKBONE = {"effnet-10x10"}  # layers read from a backbone of their own (its output), not from the SSD's tensors


def nearest(src: int, dst: int) -> np.ndarray:
    """For each of `dst` cells, the `src` cell under its centre (10 -> 19: 0,0,1,1,2,...)."""
    return ((np.arange(dst) + 0.5) * src / dst).astype(np.int64)


def stack(map19: np.ndarray, map10: np.ndarray) -> np.ndarray:
    """[..., 19, 19, 384] and [..., 10, 10, 768] -> [..., 19, 19, 1152]: the coarse map repeated beside the fine one."""
    up = nearest(map10.shape[-2], map19.shape[-2])
    return np.concatenate([map19, map10[..., up, :, :][..., up, :]], axis=-1)


def head_input(backbone: TfliteModel, layer: str, outputs: list[np.ndarray] | None = None) -> np.ndarray:
    """The head's input [1, grid, grid, channels] float32 from the backbone's last invoke (`outputs`: what it returned)."""
    if layer in OWN_BACKBONE:
        if outputs is None:
            return np.zeros(backbone.outputs[0].shape, np.float32)
        return outputs[0].astype(np.float32, copy=False)
    if layer == "10x10":
        return backbone.tensor(MAP10).astype(np.float32, copy=False)
    if layer == "19x19":
        return backbone.tensor(MAP19).astype(np.float32, copy=False)
    return stack(backbone.tensor(MAP19), backbone.tensor(MAP10)).astype(np.float32, copy=False)
