"""People in water found by the swimmer centre net: EfficientNet-Lite0 fine-tuned end to end with a
centre-point head (training/swim/centre_net.py, model card edge_models/models/SWIMMER_CENTRE.md).

Why a detector of its own rather than another head on the COCO SSD: with the SSD's frozen features,
every way of finding more swimmers (a re-scoring head, mirrored or finer tiles, a crop verifier)
cost as many false boxes (BENCHMARKS.md, stop 28). The centre net's features are trained on
swimmers, and its finest map is stride 8 on a 320 px tile instead of stride 16 on a 300 px squeeze.

Output: per 8 px cell a person-centre heat and the box's log width and height (in cells) and the
centre's offset in the cell. A person is a local maximum of the heat (3x3), as CenterNet decodes;
an NMS pass drops the odd twin peak. A region that is not square is padded (not squeezed), as the
net was trained on square crops at the photo's own scale; `detect` has the SsdDetector's
signature, so regions, the tracker and `stationctl detect` use it unchanged.

With `coco` (the station's COCO SSD), its person boxes at `coco_min_score` or more are kept too:
the centre net learned people in water from the lifeguard photos and hardly sees a person walking on
a dry bank, which the COCO SSD finds (two invokes per region instead of one; BENCHMARKS.md).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_models.detector import Detection, SsdDetector
from edge_models.runtime import ModelError, TfliteModel, shipped_file_sha256
from edge_models.ssd_anchors import iou_matrix, nms

SHIPPED_CENTRE = Path(__file__).resolve().parent / "models" / "swimmer_centre_v1.tflite"
NMS_IOU = 0.5
SAME_PERSON_IOU = 0.3  # a COCO box overlapping a centre box this much is the same person
COCO_MIN_SCORE = 0.5  # the COCO SSD's own usual threshold: its scores are calibrated unlike the heat's


def shipped_centre_sha256() -> str | None:
    """The sha256 of the centre net shipped with the package (None when it is not installed)."""
    return shipped_file_sha256(SHIPPED_CENTRE)


def peaks(heat: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the cells that are a 3x3 local maximum of `heat` at or above `min_score`."""
    local = cv2.dilate(heat, np.ones((3, 3), np.uint8))
    return np.nonzero((heat >= local) & (heat >= max(min_score, 1e-3)))


def decode(heat: np.ndarray, geom: np.ndarray, stride: float, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x1, y1, x2, y2 in input pixels) and scores of the heat's peaks: geometry is the log
    width and height in cells and the offset's logits (training/swim/centre_net.encode writes the
    same, the offset before its sigmoid)."""
    rows, cols = peaks(heat, min_score)
    g = geom[rows, cols]
    off = 1.0 / (1.0 + np.exp(-g[:, 2:]))
    cx, cy = (cols + off[:, 0]) * stride, (rows + off[:, 1]) * stride
    bw, bh = np.exp(g[:, 0]) * stride, np.exp(g[:, 1]) * stride
    return np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1).astype(np.float32), heat[rows, cols]


class CentreDetector:
    """The centre net, one per camera (the interpreter is not thread-safe)."""

    def __init__(
        self, model: TfliteModel, person_label: str = "person", limit: int = 100, coco: SsdDetector | None = None, coco_min_score: float = COCO_MIN_SCORE
    ) -> None:
        shapes = sorted(o.shape[-1] for o in model.outputs)
        if len(model.outputs) != 2 or shapes != [1, 4] or model.input.shape[1] != model.input.shape[2]:
            raise ModelError(f"{model.path}: not a swimmer centre net (outputs {[o.shape for o in model.outputs]})")
        self.model = model
        self.person_label = person_label
        self.limit = limit
        self.coco = coco
        self.coco_min_score = coco_min_score
        self._heat = next(i for i, o in enumerate(model.outputs) if o.shape[-1] == 1)
        self.side = model.input.shape[1]
        self.stride = self.side / model.outputs[self._heat].shape[1]

    @classmethod
    def load(cls, path: str | Path = SHIPPED_CENTRE, sha256: str | None = None, threads: int = 2, coco: SsdDetector | None = None) -> CentreDetector:
        return cls(TfliteModel(path, threads=threads, sha256=sha256), coco=coco)

    def detect(self, bgr: np.ndarray, min_score: float = 0.0) -> list[Detection]:
        """People at or above `min_score` (COCO's at `coco_min_score` too), best first (boxes
        normalized to `bgr`)."""
        found = self.centres(bgr, min_score)
        if self.coco is None:
            return found
        walkers = [d for d in self.coco.detect(bgr, max(min_score, self.coco_min_score)) if d.label == self.person_label]
        if not walkers:
            return found
        # One person seen by both: COCO's box (a standing person's feet, where the zone test looks; the
        # net draws a walker short and wide like a swimmer), with the better of the two scores.
        same = iou_matrix(np.asarray([d.box for d in walkers]), np.asarray([d.box for d in found]).reshape(-1, 4)) >= SAME_PERSON_IOU
        both = [Detection(w.box, max([w.score] + [f.score for f, s in zip(found, row) if s]), 0, self.person_label) for w, row in zip(walkers, same)]
        both += [f for f, s in zip(found, same.any(axis=0)) if not s]
        return sorted(both, key=lambda d: -d.score)[: self.limit]

    def centres(self, bgr: np.ndarray, min_score: float) -> list[Detection]:
        """The centre net's own people."""
        h, w = bgr.shape[:2]
        side = max(h, w)
        square = bgr if h == w else cv2.copyMakeBorder(bgr, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        outputs = self.model.run(square)
        boxes, scores = decode(outputs[self._heat][0, ..., 0], outputs[1 - self._heat][0], self.stride, min_score)
        if not len(scores):
            return []
        boxes = np.clip(boxes * (side / self.side) / np.array([w, h, w, h], np.float32), 0.0, 1.0)  # model pixels -> the region's 0..1
        kept = nms(boxes, scores, NMS_IOU, self.limit)
        return [Detection(tuple(float(v) for v in boxes[k]), float(scores[k]), 0, self.person_label) for k in kept]
