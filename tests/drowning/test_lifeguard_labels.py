"""The lifeguard set's YOLO labels are read by one function, so training and the benchmarks count the same people."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.swim.dataset import yolo_people


def test_yolo_rows_become_corner_boxes_and_broken_rows_are_skipped(tmp_path: Path) -> None:
    label = tmp_path / "photo.txt"
    label.write_text("0 0.5 0.5 0.2 0.4\n2 0.1 0.9 0.1 0.1\nnot a row\n1 0.3 0.3\n")
    people = yolo_people(label)
    np.testing.assert_allclose(people, [[0.4, 0.3, 0.6, 0.7], [0.05, 0.85, 0.15, 0.95]])


def test_a_photo_without_a_label_file_has_nobody_in_it(tmp_path: Path) -> None:
    assert yolo_people(tmp_path / "missing.txt").shape == (0, 4)
