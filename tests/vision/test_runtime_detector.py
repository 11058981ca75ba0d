"""The LiteRT runtime, the SSD detector and the classifier on the real shared model and media."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_models.classifier import ImageClassifier
from edge_models.detector import SsdDetector
from edge_models.runtime import ModelError, TfliteModel, interpreter_class, load_labels
from tests.vision.conftest import BASKETBALL, DETECT, DETECT_SHA256, LABELS, MESSI
from tests.vision.tiny_models import write_colour_classifier

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def detector() -> SsdDetector:
    return SsdDetector(TfliteModel(DETECT, threads=2, sha256=DETECT_SHA256), load_labels(LABELS))


def test_litert_is_the_runtime() -> None:
    assert interpreter_class().__module__.startswith("ai_edge_litert")


def test_input_and_outputs_are_read_from_the_model() -> None:
    model = TfliteModel(DETECT, threads=1)
    assert model.input_size == (300, 300)
    assert model.input.dtype == np.uint8
    assert model.input.scale == pytest.approx(0.0078125) and model.input.zero_point == 128
    assert [o.shape for o in model.outputs] == [(1, 10, 4), (1, 10), (1, 10), (1,)]
    tensor = model.prepare(np.zeros((576, 768, 3), np.uint8))
    assert tensor.shape == (1, 300, 300, 3) and tensor.dtype == np.uint8


def test_labels_skip_the_background_line_and_read_id_pairs(tmp_path: Path) -> None:
    labels = load_labels(LABELS)
    assert labels[0] == "person" and labels[2] == "car"
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("0 fire\n2  smoke\n")
    assert load_labels(pairs) == ["fire", "1", "smoke"]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(ModelError):
        load_labels(empty)


def test_wrong_checksum_and_missing_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="sha256"):
        TfliteModel(DETECT, sha256="0" * 64)
    with pytest.raises(ModelError, match="not found"):
        TfliteModel(tmp_path / "nothing.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(ModelError):
        TfliteModel(junk)


def test_finds_people_in_every_sampled_vtest_frame(detector: SsdDetector, vtest_frames: list[np.ndarray]) -> None:
    counts = [len([d for d in detector.detect(f, 0.5) if d.label == "person"]) for f in vtest_frames[::10]]
    assert all(c >= 1 for c in counts), counts
    assert max(counts) >= 3


@pytest.mark.parametrize("path, at_least", [(MESSI, 1), (BASKETBALL, 2)])
def test_finds_people_in_the_stills(detector: SsdDetector, path: Path, at_least: int) -> None:
    image = cv2.imread(str(path))
    people = [d for d in detector.detect(image, 0.5) if d.label == "person"]
    assert len(people) >= at_least
    for d in people:
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
        assert d.anchor == ((x1 + x2) / 2, y2)


def test_classifier_model_reads_probabilities(tmp_path: Path) -> None:
    model = TfliteModel(write_colour_classifier(tmp_path / "colour.tflite"), threads=1)
    assert model.input.dtype == np.float32
    clf = ImageClassifier(model, ["fire", "other"])
    red = np.full((40, 40, 3), (40, 90, 230), np.uint8)
    blue = np.full((40, 40, 3), (220, 90, 30), np.uint8)
    assert clf.classify(red)["fire"] > 0.99
    assert clf.classify(blue)["other"] > 0.99
    with pytest.raises(ModelError, match="not an SSD"):
        SsdDetector(model, ["fire", "other"])


def test_backbone_features_are_read_after_one_invoke_with_the_same_detections() -> None:
    """A head trained on the SSD's backbone reads its feature map from the same invoke that found the people."""
    plain = SsdDetector(TfliteModel(DETECT, threads=1), load_labels(LABELS))
    kept = TfliteModel(DETECT, threads=1, keep_tensors=True)
    image = cv2.imread(str(BASKETBALL))
    assert [d.box for d in SsdDetector(kept, load_labels(LABELS)).detect(image, 0.5)] == [d.box for d in plain.detect(image, 0.5)]
    features = kept.tensor("FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6")
    assert features.shape == (1, 10, 10, 768) and features.dtype == np.float32
    assert 0.0 <= features.min() and features.max() <= 6.01 and features.mean() > 0.01  # ReLU6, dequantized, not empty
    with pytest.raises(ModelError, match="no tensor named"):
        kept.tensor("no/such/tensor")
    with pytest.raises(ModelError, match="keep_tensors=True"):
        plain.model.tensor("FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6")
