"""Whole-image classification with a TFLite model (e.g. an operator-supplied fire/smoke model)."""

from __future__ import annotations

import numpy as np

from edge_models.runtime import ModelError, TfliteModel


class ImageClassifier:
    """A model with one output of class scores; scores are returned as probabilities.

    Outputs already within 0..1 (softmax or sigmoid heads, dequantized uint8) are used as they
    are; anything else (logits) goes through a softmax, so thresholds in the config always mean
    probabilities.
    """

    def __init__(self, model: TfliteModel, labels: list[str]) -> None:
        if len(model.outputs) != 1:
            raise ModelError(f"{model.path}: a classifier has one output, this model has {len(model.outputs)}")
        self.model = model
        self.labels = labels

    def classify(self, bgr: np.ndarray) -> dict[str, float]:
        """Probability of every label."""
        scores = self.model.run(bgr)[0].reshape(-1).astype(np.float64)
        if scores.min() < 0 or scores.max() > 1:
            e = np.exp(scores - scores.max())
            scores = e / e.sum()
        return {(self.labels[i] if i < len(self.labels) else str(i)): float(s) for i, s in enumerate(scores)}
