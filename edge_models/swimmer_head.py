"""People in water scored by a small head trained on the shared COCO SSD's own features.

Why: the COCO person class misses swimmers (a head and shoulders in glittering water, a body
seen from a drone) and finds them only at scores where the water also yields false boxes. The SSD
every station carries already computes, for each of its 1917 anchors, a class-agnostic box and
features that tell much more than "person"; a head of per-cell 1x1 convolutions over the six
feature maps (training/swim/head.py), trained on swimmer photos, re-scores every anchor. The box
of an anchor is the SSD's own decoded box (edge_models.ssd_anchors), kept by NMS as the model's
own post-processing does. With `combine_coco` an anchor scores the better of the head and the
COCO person score, so people walking on the bank stay found.

Cost: the one SSD invoke the person detector makes anyway (intermediate tensors kept by LiteRT)
plus the head (~1 ms here); `detect` has the SsdDetector's signature, so the region detector and
the tracker use it unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_models.detector import Detection
from edge_models.runtime import ModelError, TfliteModel, open_interpreter, shipped_file_sha256
from edge_models.ssd_anchors import decode, nms

SHIPPED_HEAD = Path(__file__).resolve().parent / "models" / "swimmer_head_v1.tflite"
# The far band's head (RegionsConfig.far_band): trained on photos shrunk so people are 12-32 px and
# zoomed back up in small tiles, the blurred person such tiles show (edge_models/models/SWIMMER_HEAD_FAR.md).
SHIPPED_FAR_HEAD = Path(__file__).resolve().parent / "models" / "swimmer_head_far_v1.tflite"
FEATURE_MAPS = (
    "FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_11_pointwise/Relu6",
    "FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6",
    "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_2_3x3_s2_384/Relu6",
    "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_3_3x3_s2_192/Relu6",
    "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_4_3x3_s2_192/Relu6",
    "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_5_3x3_s2_96/Relu6",
)
BOXES, LOGITS = "concat", "concat_1"  # raw box encodings [1,1917,1,4], class logits [1,1917,91]
LOGIT_CLASSES = (0, 1)  # the head reads the background and person logits of each anchor
PERSON_LOGIT = 1  # column of `person` in the logits (column 0 is the background `???`)
NMS_IOU = 0.6  # as the model's own TFLite_Detection_PostProcess


def shipped_head_sha256() -> str | None:
    """The sha256 of the head shipped with the package (None when it is not installed)."""
    return shipped_file_sha256(SHIPPED_HEAD)


class SwimmerHead:
    """The head's interpreter: six feature maps and the anchors' logits in, a score per anchor out."""

    def __init__(self, path: str | Path = SHIPPED_HEAD, sha256: str | None = None, threads: int = 1) -> None:
        self.path = Path(path)
        self._interp = open_interpreter(self.path, threads, sha256)  # seven inputs: not a TfliteModel's one image
        inputs = self._interp.get_input_details()
        self._inputs: dict[tuple[int, ...], int] = {tuple(int(x) for x in d["shape"][1:]): int(d["index"]) for d in inputs}
        outputs = self._interp.get_output_details()
        if len(inputs) != 7 or (1917, 91) not in self._inputs or len(outputs) != 1 or int(np.prod(outputs[0]["shape"])) != 1917:
            raise ModelError(f"{self.path}: not a swimmer head (inputs {[tuple(d['shape']) for d in inputs]})")
        self._output = int(outputs[0]["index"])

    def scores(self, maps: list[np.ndarray], logits: np.ndarray) -> np.ndarray:
        """[1917] swimmer probabilities of one image's anchors (maps and logits dequantized)."""
        for m in (*maps, logits):
            shape = tuple(m.shape[1:]) if m.ndim == 4 or m.shape[0] == 1 else tuple(m.shape)
            index = self._inputs.get(shape)
            if index is None:
                raise ModelError(f"{self.path}: no head input of shape {shape}")
            self._interp.set_tensor(index, m.reshape(1, *shape).astype(np.float32, copy=False))
        self._interp.invoke()
        return self._interp.get_tensor(self._output).reshape(-1)


class SwimmerDetector:
    """The shared SSD plus the swimmer head, one per camera (the interpreters are not thread-safe)."""

    def __init__(self, model: TfliteModel, head: SwimmerHead, person_label: str = "person", combine_coco: bool = True, limit: int = 100) -> None:
        if not model.keep_tensors:
            raise ModelError(f"{model.path}: the SSD must be loaded with keep_tensors=True for the swimmer head")
        try:
            for name in (*FEATURE_MAPS, BOXES, LOGITS, "anchors"):
                model.tensor(name)
        except ModelError as exc:
            raise ModelError(f"{model.path}: not the COCO SSD MobileNet-V1 the swimmer head was trained on ({exc})") from exc
        self.model = model
        self.head = head
        self.person_label = person_label
        self.combine_coco = combine_coco
        self.limit = limit
        # The model's own anchors (a constant inside it): decoding with them gives exactly the model's boxes;
        # ssd_anchors() generates the same within their uint8 storage step (tests/drowning/test_swimmer_head.py).
        self.anchors = model.tensor("anchors")

    @classmethod
    def load(cls, backbone_path: str | Path, backbone_sha256: str | None = None, head_path: str | Path | None = None,
             head_sha256: str | None = None, threads: int = 2, combine_coco: bool = True) -> SwimmerDetector:
        model = TfliteModel(backbone_path, threads=threads, sha256=backbone_sha256, keep_tensors=True)
        return cls(model, SwimmerHead(head_path or SHIPPED_HEAD, head_sha256), combine_coco=combine_coco)

    def anchor_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(swimmer scores, COCO person scores) of the last invoke's 1917 anchors."""
        logits = self.model.tensor(LOGITS)
        swim = self.head.scores([self.model.tensor(n) for n in FEATURE_MAPS], logits)
        coco = 1.0 / (1.0 + np.exp(-logits.reshape(-1, 91)[:, PERSON_LOGIT]))
        return swim, coco

    def detect(self, bgr: np.ndarray, min_score: float = 0.0) -> list[Detection]:
        """People at or above `min_score`, best first (boxes normalized to `bgr`)."""
        self.model.run(bgr)
        return self.decode(min_score)

    def decode(self, min_score: float = 0.0) -> list[Detection]:
        swim, coco = self.anchor_scores()
        scores = np.maximum(swim, coco) if self.combine_coco else swim
        idx = np.flatnonzero(scores >= min_score)
        if not len(idx):
            return []
        # Only the anchors that pass are decoded (a handful of 1917 on most frames).
        boxes = np.clip(decode(self.model.tensor(BOXES).reshape(-1, 4)[idx], self.anchors[idx]), 0.0, 1.0)
        kept = nms(boxes, scores[idx], NMS_IOU, self.limit)
        return [Detection(tuple(float(v) for v in boxes[k]), float(scores[idx][k]), PERSON_LOGIT - 1, self.person_label) for k in kept]

    def describe(self) -> dict[str, Any]:
        return {"backbone": str(self.model.path), "head": str(self.head.path), "combine_coco": self.combine_coco}
