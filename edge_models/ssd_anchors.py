"""The anchors of the shared COCO SSD MobileNet v1 and how its raw box encodings decode.

Why: the model's own post-processing keeps ten boxes scored by the COCO classes; a head that
scores every anchor itself (edge_models.swimmer_head) needs the anchors, the class-agnostic
box of each (the `concat` tensor decoded) and a non-maximum suppression. The anchors follow the
TF object-detection `ssd_anchor_generator` of the ssd_mobilenet_v1 COCO config, checked against
the `anchors` constant inside the model (tests/drowning/test_swimmer_head.py).
"""

from __future__ import annotations

import math

import numpy as np

# (grid side, anchors per cell) of the six feature maps, largest map first: 1917 anchors in all.
GRIDS = ((19, 3), (10, 6), (5, 6), (3, 6), (2, 6), (1, 6))
SCALE_XY, SCALE_HW = 10.0, 5.0


def ssd_anchors(min_scale: float = 0.2, max_scale: float = 0.95, aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 1 / 3)) -> np.ndarray:
    """[1917, 4] anchors as (y centre, x centre, height, width), normalised to the input."""
    n = len(GRIDS)
    scales = [min_scale + (max_scale - min_scale) * i / (n - 1) for i in range(n)] + [1.0]
    out = []
    for layer, (grid, per_cell) in enumerate(GRIDS):
        if layer == 0:  # reduce_boxes_in_lowest_layer
            specs = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
        else:
            specs = [(scales[layer], ar) for ar in aspect_ratios] + [(math.sqrt(scales[layer] * scales[layer + 1]), 1.0)]
        assert len(specs) == per_cell
        centres = (np.arange(grid) + 0.5) / grid
        for yc in centres:
            for xc in centres:
                for scale, ar in specs:
                    out.append((yc, xc, scale / math.sqrt(ar), scale * math.sqrt(ar)))
    return np.asarray(out, dtype=np.float32)


def decode(encodings: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """[N, 4] raw encodings (ty, tx, th, tw) -> [N, 4] boxes (x1, y1, x2, y2), normalised, unclipped."""
    e = encodings.reshape(-1, 4)
    yc = e[:, 0] / SCALE_XY * anchors[:, 2] + anchors[:, 0]
    xc = e[:, 1] / SCALE_XY * anchors[:, 3] + anchors[:, 1]
    h = np.exp(e[:, 2] / SCALE_HW) * anchors[:, 2]
    w = np.exp(e[:, 3] / SCALE_HW) * anchors[:, 3]
    return np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of `a` [N, 4] with every box of `b` [M, 4] (x1, y1, x2, y2)."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.6, limit: int = 100) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best first (the model's own op uses 0.6)."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < limit:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_matrix(boxes[i:i + 1], boxes[rest])[0] < iou]
    return keep
