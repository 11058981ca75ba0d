"""Fire and smoke scored per cell of a backbone's feature map by a small trained head.

Two backbones, one runtime: v3 (`layer="effnet-10x10"`, `type: imagenet`, the forest-edge default)
runs an ImageNet EfficientNet-Lite0 shipped in `models/` (int8, 320 x 320) and reads its output
map, 10 x 10 x 1280 (MODEL_CARD_v3.md); v2 (`layer="10x10"`, `type: backbone`) reads the shared
COCO SSD's 10 x 10 x 768 map (`Conv2d_13_pointwise`) with LiteRT's preserve-all-tensors after the
SSD's ordinary invoke (MODEL_CARD_v2.md). Why features learned elsewhere: v1 (`fire_learned`), a
CNN trained from scratch on a few thousand photos, learned "orange and bright"; ImageNet features
tell flames from sunsets, red cars and lamps best of the three. A head of two 1x1 convolutions
scores each cell for fire and for smoke (training/fire/head.py); a frame's score per class is its
best cell's; the cells above the threshold, merged where they touch, are the evidence boxes (what
the snapshot draws and a "false alarm here" suppresses).

Cost: one backbone invoke per analysed frame (v3 ~0.65x the person detector's, v2 1x) plus the
head, plus one invoke per candidate crop. Issue 16 also tried the SSD's finer 19 x 19 map
(`fire_maps`, `layer`) and crops around the best cells (`crops`): measured, not shipped.
The output is the same `FireSmokeEvidence` as the other detectors, so the alarm rule's N-of-M
persistence and GPIO corroboration apply unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_models.fire_evidence import FireSmokeEvidence
from edge_models.fire_learned import WHOLE, View  # a view's fire/smoke: its best cell's here
from edge_models.fire_maps import OWN_BACKBONE, SHAPES, head_input
from edge_models.runtime import ModelError, TfliteModel, shipped_file_sha256
from edge_models.zones import Box, crop_pixels

MODELS = Path(__file__).resolve().parent / "models"
SHIPPED_HEAD = MODELS / "fire_smoke_head_v2.tflite"
EFFNET_BACKBONE = MODELS / "effnet_lite0_320_int8.tflite"  # ImageNet EfficientNet-Lite0, int8 (MODEL_CARD_v3.md)


@dataclass(frozen=True, slots=True)
class ShippedHead:
    """A head shipped with the package for one feature layer, with the thresholds chosen for it on validation."""

    path: Path
    fire_threshold: float
    smoke_threshold: float


SHIPPED_HEADS: dict[str, ShippedHead] = {
    "10x10": ShippedHead(SHIPPED_HEAD, 0.67, 0.31),  # MODEL_CARD_v2.md
    "effnet-10x10": ShippedHead(MODELS / "fire_smoke_head_v3.tflite", 0.48, 0.41),  # MODEL_CARD_v3.md (on EFFNET_BACKBONE)
}


def shipped_head_sha256() -> str | None:
    """The sha256 of the head shipped with the package (None when it is not installed)."""
    return shipped_file_sha256(SHIPPED_HEAD)


class BackboneFireSmoke:
    """The SSD's backbone plus the head, one per camera (the interpreters are not thread-safe).

    `layer` names the feature map(s) the head reads (`fire_maps`); `crops` > 0 re-runs backbone
    and head on a crop of `crop_side` (a fraction of the frame's width and height) around each of
    the best cells of the whole-frame pass, so a small flame is seen a few times larger (one SSD
    invoke per crop)."""

    def __init__(
        self,
        backbone: TfliteModel,
        head: TfliteModel,
        fire_threshold: float | None = None,
        smoke_threshold: float | None = None,
        detect_fire: bool = True,
        detect_smoke: bool = True,
        layer: str = "10x10",
        crops: int = 0,
        crop_side: float = 0.4,
    ) -> None:
        if layer not in SHAPES:
            raise ModelError(f"unknown feature layer {layer!r}: one of {sorted(SHAPES)}")
        if layer not in OWN_BACKBONE and not backbone.keep_tensors:
            raise ModelError(f"{backbone.path}: the backbone must be loaded with keep_tensors=True")
        try:
            expected = head_input(backbone, layer).shape  # before any invoke: the tensors exist, their values do not matter
        except ModelError as exc:
            raise ModelError(f"{backbone.path}: not the COCO SSD MobileNet-V1 the head was trained on ({exc})") from exc
        if tuple(expected[1:]) != (SHAPES[layer][0], SHAPES[layer][0], SHAPES[layer][1]):
            raise ModelError(f"{backbone.path}: gives a {tuple(expected[1:])} map, the {layer} head reads {SHAPES[layer]}")
        if head.input.shape[1:] != expected[1:] or len(head.outputs) != 1 or head.outputs[0].shape[-1] != 2:
            raise ModelError(
                f"{head.path}: expected a head from {layer} features {tuple(expected[1:])} to per-cell (fire, smoke) scores, "
                f"got input {head.input.shape} and outputs {[o.shape for o in head.outputs]}"
            )
        self.backbone = backbone
        self.head = head
        self.layer = layer
        self.crops = crops
        self.crop_side = crop_side
        shipped = SHIPPED_HEADS.get(layer)
        self.fire_threshold = fire_threshold if fire_threshold is not None else shipped.fire_threshold if shipped else 0.5
        self.smoke_threshold = smoke_threshold if smoke_threshold is not None else shipped.smoke_threshold if shipped else 0.5
        self.detect_fire = detect_fire
        self.detect_smoke = detect_smoke
        self.last_views: tuple[View, ...] = ()
        self.last_cells: np.ndarray | None = None  # [rows, cols, 2] probabilities of the last frame's whole view

    @classmethod
    def load(
        cls,
        backbone_path: str | Path | None = None,
        backbone_sha256: str | None = None,
        head_path: str | Path | None = None,
        head_sha256: str | None = None,
        threads: int = 1,
        layer: str = "10x10",
        **settings: float | bool | str | int | None,
    ) -> "BackboneFireSmoke":
        """Load the backbone (the SSD, keeping its tensors; for `effnet-10x10` the EfficientNet shipped with the gateway
        when `backbone_path` is None) and the head (the one shipped for `layer` when `head_path` is None);
        ModelError when either is missing, altered or not what the other expects."""
        if head_path is None and layer not in SHIPPED_HEADS:
            raise ModelError(f"no head is shipped for layer {layer!r} (shipped: {sorted(SHIPPED_HEADS)}): give head_path")
        own = layer in OWN_BACKBONE
        if backbone_path is None and not own:
            raise ModelError(f"the {layer} head reads the person detector's COCO SSD: give backbone_path")
        path = backbone_path if backbone_path is not None else EFFNET_BACKBONE
        backbone = TfliteModel(path, threads=threads, sha256=backbone_sha256, keep_tensors=not own)
        head = TfliteModel(head_path if head_path is not None else SHIPPED_HEADS[layer].path, threads=1, sha256=head_sha256)
        return cls(backbone, head, layer=layer, **settings)  # type: ignore[arg-type]

    def cells(self, bgr: np.ndarray) -> np.ndarray:
        """Per-cell (fire, smoke) probabilities [grid, grid, 2] of a frame: one backbone invoke, one head invoke."""
        outputs = self.backbone.run(bgr)
        return self.head.invoke(head_input(self.backbone, self.layer, outputs))[0][0]

    def analyse(self, bgr: np.ndarray) -> FireSmokeEvidence:
        """Evidence for one analysed frame: the best cell's scores per class over the whole frame and its
        crops, and the merged boxes of the cells that pass (in frame coordinates)."""
        cells = self.cells(bgr)
        self.last_cells = cells
        scored = [(WHOLE, cells)] + [(box, self.cells(crop_pixels(bgr, box, 8))) for box in self.crop_boxes(cells)]
        fire_boxes: tuple[Box, ...] = ()
        smoke_boxes: tuple[Box, ...] = ()
        views = []
        for box, c in scored:
            f = cell_boxes(c[..., 0] >= self.fire_threshold) if self.detect_fire else ()
            s = cell_boxes(c[..., 1] >= self.smoke_threshold) if self.detect_smoke else ()
            fire_boxes += tuple(inside(box, b) for b in f)
            smoke_boxes += tuple(inside(box, b) for b in s)
            views.append(View(box, float(c[..., 0].max()), float(c[..., 1].max())))
            views += [View(inside(box, b), float(_in_box(c[..., 0], b).max()), float(_in_box(c[..., 1], b).max())) for b in f + s]
        self.last_views = tuple(views)
        fs = max(float(c[..., 0].max()) for _, c in scored) if self.detect_fire else 0.0
        ss = max(float(c[..., 1].max()) for _, c in scored) if self.detect_smoke else 0.0
        return FireSmokeEvidence.from_boxes(fire_boxes, smoke_boxes, fs, ss, "imagenet" if self.layer in OWN_BACKBONE else "backbone")

    def crop_boxes(self, cells: np.ndarray) -> list[Box]:
        """Up to `crops` boxes of `crop_side` centred on the best cells (fire, and smoke when looked for),
        each next one outside the crops already chosen."""
        if self.crops <= 0 or not (self.detect_fire or self.detect_smoke):
            return []
        rows, cols = cells.shape[:2]
        score = np.maximum(cells[..., 0] if self.detect_fire else 0.0, cells[..., 1] if self.detect_smoke else 0.0)
        boxes: list[Box] = []
        for k in np.argsort(score, axis=None)[::-1]:
            r, c = divmod(int(k), cols)
            cx, cy = (c + 0.5) / cols, (r + 0.5) / rows
            if any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes):
                continue
            half = self.crop_side / 2
            x1, y1 = min(max(cx - half, 0.0), 1.0 - self.crop_side), min(max(cy - half, 0.0), 1.0 - self.crop_side)
            boxes.append((x1, y1, x1 + self.crop_side, y1 + self.crop_side))
            if len(boxes) == self.crops:
                break
        return boxes


def inside(outer: Box, box: Box) -> Box:
    """A box given in the coordinates of `outer` (a crop), in the frame's."""
    w, h = outer[2] - outer[0], outer[3] - outer[1]
    return (outer[0] + box[0] * w, outer[1] + box[1] * h, outer[0] + box[2] * w, outer[1] + box[3] * h)


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

