"""Fire and smoke read from the shared COCO SSD's backbone by a small trained head (`models/fire_smoke_head_v2.tflite`).

Why: the v1 verifier (`fire_learned`), a small CNN trained from scratch, learned "orange and
bright" (MODEL_CARD.md). The SSD MobileNet-V1 every station already carries was trained on COCO
and tells a flame from a red car, a lamp or a sunset much better; its 10 x 10 x 768 feature map
(`Conv2d_13_pointwise`) is read with LiteRT's preserve-all-tensors after one ordinary invoke, and
a head of two 1x1 convolutions scores each cell for fire and for smoke (training/fire/head.py).
A frame's score per class is its best cell's; the cells above the threshold, merged where they
touch, are the evidence boxes (what the snapshot draws and a "false alarm here" suppresses).

Cost: one SSD invoke per analysed frame plus a head of ~40 k multiply-adds per cell (bench/fire.py).
The output is the same `FireSmokeEvidence` as the other detectors, so the alarm rule's N-of-M
persistence and GPIO corroboration apply unchanged.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_models.fire_evidence import FireSmokeEvidence
from edge_models.fire_learned import WHOLE, View  # a view's fire/smoke: its best cell's here
from edge_models.runtime import ModelError, TfliteModel, shipped_file_sha256
from edge_models.zones import Box

SHIPPED_HEAD = Path(__file__).resolve().parent / "models" / "fire_smoke_head_v2.tflite"
LAYER = "FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6"


def shipped_head_sha256() -> str | None:
    """The sha256 of the head shipped with the package (None when it is not installed)."""
    return shipped_file_sha256(SHIPPED_HEAD)


class BackboneFireSmoke:
    """The SSD's backbone plus the head, one per camera (the interpreters are not thread-safe)."""

    def __init__(
        self,
        backbone: TfliteModel,
        head: TfliteModel,
        fire_threshold: float = 0.5,
        smoke_threshold: float = 0.5,
        detect_fire: bool = True,
        detect_smoke: bool = True,
    ) -> None:
        if not backbone.keep_tensors:
            raise ModelError(f"{backbone.path}: the backbone must be loaded with keep_tensors=True")
        try:
            grid = backbone.tensor(LAYER).shape  # before any invoke: the tensor exists, its values do not matter
        except ModelError as exc:
            raise ModelError(f"{backbone.path}: not the COCO SSD MobileNet-V1 the head was trained on ({exc})") from exc
        if head.input.shape[1:] != grid[1:] or len(head.outputs) != 1 or head.outputs[0].shape[-1] != 2:
            raise ModelError(
                f"{head.path}: expected a head from {tuple(grid[1:])} features to per-cell (fire, smoke) scores, "
                f"got input {head.input.shape} and outputs {[o.shape for o in head.outputs]}"
            )
        self.backbone = backbone
        self.head = head
        self.fire_threshold = fire_threshold
        self.smoke_threshold = smoke_threshold
        self.detect_fire = detect_fire
        self.detect_smoke = detect_smoke
        self.last_views: tuple[View, ...] = ()
        self.last_cells: np.ndarray | None = None  # [rows, cols, 2] probabilities of the last frame

    @classmethod
    def load(
        cls,
        backbone_path: str | Path,
        backbone_sha256: str | None = None,
        head_path: str | Path | None = None,
        head_sha256: str | None = None,
        threads: int = 1,
        **settings: float | bool,
    ) -> "BackboneFireSmoke":
        """Load the SSD (keeping its tensors) and the head (the shipped one when `head_path` is None);
        ModelError when either is missing, altered or not what the other expects."""
        backbone = TfliteModel(backbone_path, threads=threads, sha256=backbone_sha256, keep_tensors=True)
        head = TfliteModel(head_path if head_path is not None else SHIPPED_HEAD, threads=1, sha256=head_sha256)
        return cls(backbone, head, **settings)  # type: ignore[arg-type]

    def cells(self, bgr: np.ndarray) -> np.ndarray:
        """Per-cell (fire, smoke) probabilities [10, 10, 2] of a frame: one SSD invoke, one head invoke."""
        self.backbone.run(bgr)
        features = self.backbone.tensor(LAYER).astype(np.float32)
        return self.head.invoke(features)[0][0]

    def analyse(self, bgr: np.ndarray) -> FireSmokeEvidence:
        """Evidence for one analysed frame: the best cell's scores per class, and the merged boxes of the cells that pass."""
        cells = self.cells(bgr)
        self.last_cells = cells
        fs = float(cells[..., 0].max()) if self.detect_fire else 0.0
        ss = float(cells[..., 1].max()) if self.detect_smoke else 0.0
        fire_boxes = cell_boxes(cells[..., 0] >= self.fire_threshold) if self.detect_fire else ()
        smoke_boxes = cell_boxes(cells[..., 1] >= self.smoke_threshold) if self.detect_smoke else ()
        self.last_views = (View(WHOLE, float(cells[..., 0].max()), float(cells[..., 1].max())),) + tuple(
            View(b, float(_in_box(cells[..., 0], b).max()), float(_in_box(cells[..., 1], b).max())) for b in fire_boxes + smoke_boxes
        )
        return FireSmokeEvidence.from_boxes(fire_boxes, smoke_boxes, fs, ss, "backbone")


def cell_boxes(mask: np.ndarray) -> tuple[Box, ...]:
    """The cells of a [rows, cols] mask merged where they touch (8-connected), as normalized boxes, largest first."""
    rows, cols = mask.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    found = sorted((int(s[4]), (s[0] / cols, s[1] / rows, (s[0] + s[2]) / cols, (s[1] + s[3]) / rows)) for s in stats[1:n])
    return tuple((float(b[0]), float(b[1]), float(b[2]), float(b[3])) for _, b in reversed(found))


def _in_box(grid: np.ndarray, box: Box) -> np.ndarray:
    rows, cols = grid.shape
    r1, c1 = int(round(box[1] * rows)), int(round(box[0] * cols))
    r2, c2 = max(r1 + 1, int(round(box[3] * rows))), max(c1 + 1, int(round(box[2] * cols)))
    return grid[r1:r2, c1:c2]

