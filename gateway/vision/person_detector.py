"""The models a camera's config asks for: a model file with its labels, and the person detector —
the COCO SSD as it is, the same SSD with the swimmer head re-scoring its anchors
(edge_models.swimmer_head), or the swimmer centre net in its place (edge_models.centre_detector)."""

from __future__ import annotations

from edge_models.centre_detector import SHIPPED_CENTRE, CentreDetector
from edge_models.detector import SsdDetector
from edge_models.region_detector import RegionSettings
from edge_models.runtime import TfliteModel, load_labels
from edge_models.swimmer_head import SHIPPED_FAR_HEAD, SHIPPED_HEAD, SwimmerDetector, SwimmerHead
from gateway.config.vision import DetectionConfig, ModelConfig


def load_model(cfg: ModelConfig, keep_tensors: bool = False) -> tuple[TfliteModel, list[str]]:
    """The model and its labels (no label file: class ids as text); `keep_tensors` for a head that
    reads its feature maps."""
    model = TfliteModel(cfg.path, threads=cfg.threads, sha256=cfg.sha256, input_mean=cfg.input_mean, input_std=cfg.input_std, keep_tensors=keep_tensors)
    labels = load_labels(cfg.labels) if cfg.labels is not None else []
    return model, labels


def person_detector(d: DetectionConfig) -> SsdDetector | SwimmerDetector | CentreDetector:
    """Loads the models (may raise ModelError: missing file, wrong sha256, not the SSD the head knows)."""
    m = d.model
    if d.head == "centre":
        model = TfliteModel(d.centre_path or SHIPPED_CENTRE, threads=m.threads, sha256=d.centre_sha256)
        coco = SsdDetector(*load_model(m, keep_tensors=True)) if d.centre_with_coco else None  # tensors: the far head's
        return CentreDetector(model, person_label=d.person_labels[0], coco=coco)
    if d.head == "swimmer":
        model = TfliteModel(m.path, threads=m.threads, sha256=m.sha256, keep_tensors=True)
        head = SwimmerHead(d.swimmer_head_path or SHIPPED_HEAD, d.swimmer_head_sha256)
        return SwimmerDetector(model, head, person_label=d.person_labels[0], combine_coco=d.swimmer_with_coco)
    return SsdDetector(*load_model(m))


def far_band_detector(
    detector: SsdDetector | SwimmerDetector | CentreDetector, settings: RegionSettings, d: DetectionConfig
) -> SwimmerDetector | None:
    """The far band's detector: the camera's SSD scored by the far head (trained on swimmers zoomed up
    from 12-32 px; on ordinary tiles it adds false boxes), with `head: swimmer` and with `head: centre`
    beside COCO (the centre net never learned people zoomed up five times: 0.71 of 20 px swimmers
    against the far head's 0.88, BENCHMARKS.md); else None (the camera's own). May raise ModelError
    (missing file, wrong sha256), as the camera's own head does."""
    if not settings.has_far_band:
        return None
    if isinstance(detector, SwimmerDetector):
        model, combine = detector.model, detector.combine_coco
    elif isinstance(detector, CentreDetector) and detector.coco is not None:
        model, combine = detector.coco.model, True
    else:
        return None
    head = SwimmerHead(d.far_head_path or SHIPPED_FAR_HEAD, d.far_head_sha256)
    return SwimmerDetector(model, head, detector.person_label, combine, detector.limit)
