"""The backbone head's candidate crops and feature layers (issue 16, the v3 experiment): a crop re-reads the
best cells of the whole-frame pass larger, its boxes come back in frame coordinates, and a head that does
not fit the layer asked for is refused with a clear error (real SSD, real v2 head, real photos)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_models.fire_head import BackboneFireSmoke
from edge_models.fire_learned import WHOLE
from edge_models.fire_maps import nearest, stack
from edge_models.runtime import ModelError
from tests.vision.conftest import DETECT, DETECT_SHA256, FIRE_BASKET, PAN_FIRE

pytestmark = pytest.mark.timeout(120)


def _detector(**settings: object) -> BackboneFireSmoke:
    return BackboneFireSmoke.load(DETECT, DETECT_SHA256, **settings)  # type: ignore[arg-type]


def test_the_coarse_map_is_repeated_under_the_fine_cells() -> None:
    assert nearest(10, 19).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]
    fine, coarse = np.zeros((1, 19, 19, 384), np.float32), np.arange(100, dtype=np.float32).reshape(1, 10, 10, 1).repeat(768, -1)
    both = stack(fine, coarse)
    assert both.shape == (1, 19, 19, 1152)
    assert both[0, 18, 0, 384] == coarse[0, 9, 0, 0] and both[0, 9, 9, 384] == coarse[0, 5, 5, 0]


@pytest.mark.parametrize("path", [FIRE_BASKET, PAN_FIRE])
def test_crops_keep_the_fire_and_put_their_boxes_in_the_frame(path) -> None:
    det = _detector(crops=2, crop_side=0.35)
    ev = det.analyse(cv2.imread(str(path)))
    assert ev.fire and ev.fire_boxes and all(0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1 for b in ev.fire_boxes)
    crops = [v for v in det.last_views if v.box != WHOLE and abs(v.box[2] - v.box[0] - 0.35) < 1e-9]
    assert det.last_views[0].box == WHOLE and len(crops) == 2
    assert ev.fire_score == max(v.fire for v in det.last_views)


def test_each_crop_centres_on_a_best_cell_outside_the_crops_before_it() -> None:
    det = _detector(crops=2, crop_side=0.3)
    cells = np.zeros((10, 10, 2), np.float32)
    cells[0, 0, 0], cells[0, 1, 0], cells[7, 7, 0] = 0.9, 0.8, 0.7  # the second best lies inside the first crop
    first, second = det.crop_boxes(cells)
    assert first == (0.0, 0.0, 0.3, 0.3)  # clamped inside the frame
    assert second == pytest.approx((0.6, 0.6, 0.9, 0.9))
    assert _detector().crop_boxes(cells) == []


def test_a_head_of_another_layer_is_refused() -> None:
    with pytest.raises(ModelError, match="expected a head from 19x19"):
        _detector(layer="19x19+10x10", head_path=BackboneFireSmoke.load(DETECT).head.path)
    with pytest.raises(ModelError, match="no head is shipped for layer '19x19'"):
        _detector(layer="19x19")
    with pytest.raises(ModelError, match="unknown feature layer"):
        _detector(layer="20x20", head_path=BackboneFireSmoke.load(DETECT).head.path)
