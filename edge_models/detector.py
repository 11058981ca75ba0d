"""SSD-style object detection: boxes, classes, scores and count out of a TFLite model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_models.runtime import ModelError, TfliteModel

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected object; `box` is (x1, y1, x2, y2) normalized to 0..1 of the frame."""

    box: Box
    score: float
    class_id: int
    label: str

    @property
    def anchor(self) -> tuple[float, float]:
        """Bottom centre of the box: where a standing person touches the ground (or the water)."""
        x1, _, x2, y2 = self.box
        return (x1 + x2) / 2, y2

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


class SsdDetector:
    """A TFLite detector with the TFLite_Detection_PostProcess outputs.

    The four outputs are told apart by shape (boxes are [1,N,4], the count has one element) and,
    for classes versus scores, by the standard order of the post-processing op; exports that use
    another order are handled by checking which of the two holds whole numbers.
    """

    def __init__(self, model: TfliteModel, labels: list[str]) -> None:
        self.model = model
        self.labels = labels
        self._boxes, self._classes, self._scores, self._count = self._layout(model)

    @staticmethod
    def _layout(model: TfliteModel) -> tuple[int, int, int, int]:
        shapes = [o.shape for o in model.outputs]
        boxes = [i for i, s in enumerate(shapes) if len(s) == 3 and s[-1] == 4]
        count = [i for i, s in enumerate(shapes) if int(np.prod(s)) == 1]
        pairs = [i for i, s in enumerate(shapes) if len(s) == 2]
        if len(boxes) != 1 or len(count) != 1 or len(pairs) != 2:
            raise ModelError(f"{model.path}: not an SSD-style detector (outputs {shapes})")
        return boxes[0], pairs[0], pairs[1], count[0]

    def label(self, class_id: int) -> str:
        return self.labels[class_id] if 0 <= class_id < len(self.labels) else str(class_id)

    def detect(self, bgr: np.ndarray, min_score: float = 0.0) -> list[Detection]:
        """Detections at or above `min_score`, best first."""
        return self.decode(self.model.run(bgr), min_score)

    def decode(self, outputs: list[np.ndarray], min_score: float = 0.0) -> list[Detection]:
        """Turn raw outputs into detections (split from `detect` so benchmarks can time invoke alone)."""
        boxes = outputs[self._boxes].reshape(-1, 4)
        classes = outputs[self._classes].reshape(-1)
        scores = outputs[self._scores].reshape(-1)
        if np.any(classes != np.round(classes)) and np.all(scores == np.round(scores)):
            classes, scores = scores, classes
        n = min(int(outputs[self._count].reshape(-1)[0]), len(scores))
        keep = [i for i in range(n) if scores[i] >= min_score]
        clipped = np.clip(boxes[keep], 0.0, 1.0).tolist() if keep else []
        out = []
        for i, (y1, x1, y2, x2) in zip(keep, clipped):
            cid = int(classes[i])
            out.append(Detection((x1, y1, x2, y2), float(scores[i]), cid, self.label(cid)))
        out.sort(key=lambda d: d.score, reverse=True)
        return out
