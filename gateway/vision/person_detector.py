"""The person detector a camera's detection config asks for: the COCO SSD as it is, or the same
SSD with the swimmer head re-scoring its anchors (edge_models.swimmer_head)."""

from __future__ import annotations

from edge_models.detector import SsdDetector
from edge_models.runtime import TfliteModel, load_labels
from edge_models.swimmer_head import SwimmerDetector, SwimmerHead
from gateway.config.vision import DetectionConfig


def person_detector(d: DetectionConfig) -> SsdDetector | SwimmerDetector:
    """Loads the models (may raise ModelError: missing file, wrong sha256, not the SSD the head knows)."""
    m = d.model
    if d.head == "swimmer":
        model = TfliteModel(m.path, threads=m.threads, sha256=m.sha256, keep_tensors=True)
        head = SwimmerHead(d.swimmer_head_path, d.swimmer_head_sha256) if d.swimmer_head_path else SwimmerHead(sha256=d.swimmer_head_sha256)
        return SwimmerDetector(model, head, person_label=d.person_labels[0], combine_coco=d.swimmer_with_coco)
    model = TfliteModel(m.path, threads=m.threads, sha256=m.sha256, input_mean=m.input_mean, input_std=m.input_std)
    return SsdDetector(model, load_labels(m.labels) if m.labels is not None else [])
