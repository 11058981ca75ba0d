"""Regions at native resolution: tiling, mapping back, merging, the budget and the revisit promise,
the config, and the far swimmer a whole-frame detector cannot see."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge_models.detector import Detection, SsdDetector
from edge_models.region_detector import RegionDetector, RegionPlanner, RegionSettings
from edge_models.regions import Rect, RegionDetection, merge_regions, tile_rects, to_frame, zone_crop
from edge_models.runtime import TfliteModel, load_labels
from gateway.config.regions import RegionsConfig
from gateway.config.vision import CameraConfig
from gateway.vision.frame_processor import build_pipeline
from tests.vision.conftest import BASKETBALL, DETECT, LABELS, VTEST, read_frames

WATER = [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]


@pytest.fixture(scope="module")
def detector() -> SsdDetector:
    return SsdDetector(TfliteModel(DETECT, threads=2), load_labels(LABELS))


@pytest.fixture(scope="module")
def plaza() -> np.ndarray:
    """vtest.avi's plaza without its walkers (per-pixel median), scaled to 1920x1080."""
    frames = [read_frames(VTEST, 1, start)[0] for start in range(0, 780, 60)]
    return cv2.resize(np.median(np.stack(frames), axis=0).astype(np.uint8), (1920, 1080), interpolation=cv2.INTER_CUBIC)


def camera(mode: str, **regions: object) -> CameraConfig:
    return CameraConfig.model_validate({
        "id": "pond", "driver": {"type": "file", "path": "x.avi"},
        "detection": {"model": {"path": str(DETECT), "labels": str(LABELS)}, "regions": {"mode": mode, **regions}},
        "zones": [{"id": "water", "polygon": WATER, "min_box_area": 0.0}],
        "motion": {"enabled": False},
    })


def test_tiles_cover_the_crop_with_the_configured_overlap() -> None:
    crop = zone_crop([(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)], 1920, 1080, 0.02)
    assert (crop.x, crop.y2, crop.w) == (0, 1080, 1920) and crop.y == 648 - 39
    tiles = tile_rects(crop, 320, 0.25)
    covered = np.zeros((1080, 1920), bool)
    for t in tiles:
        assert (t.w, t.h) == (320, 320) and crop.x <= t.x and t.x2 <= crop.x2 and crop.y <= t.y and t.y2 <= crop.y2
        covered[t.y:t.y2, t.x:t.x2] = True
    assert covered[crop.y:crop.y2, crop.x:crop.x2].all() and covered.sum() == crop.w * crop.h
    xs = sorted({t.x for t in tiles})
    ys = sorted({t.y for t in tiles})
    assert all(320 - (b - a) >= 0.25 * 320 for a, b in zip(xs, xs[1:]))
    assert all(320 - (b - a) >= 0.25 * 320 for a, b in zip(ys, ys[1:]))
    assert len(xs) == 8 and len(ys) == 2  # (1920-320)/240 -> 7 steps; (471-320)/240 -> 1 step
    assert tile_rects(Rect(10, 20, 200, 100), 320, 0.25) == [Rect(10, 20, 200, 100)]


def test_boxes_map_back_to_frame_coordinates(detector: SsdDetector) -> None:
    rect = Rect(100, 200, 300, 300)
    [rd] = to_frame([Detection((0.5, 0.5, 1.0, 1.0), 0.9, 0, "person")], rect, 1000, 1000, 3)
    assert rd.det.box == pytest.approx((0.25, 0.35, 0.4, 0.5)) and rd.region == 3 and rd.sides == "rb"  # touches the tile's inner edges
    # The real model: a basketball player pasted far down the frame is found where he was put.
    player = cv2.imread(str(BASKETBALL))[0:480, 400:640]
    small = cv2.resize(player, None, fx=0.5, fy=0.5)  # about 230 px tall
    frame = np.full((1080, 1920, 3), 120, np.uint8)
    frame[800:800 + small.shape[0], 1500:1500 + small.shape[1]] = small
    planner = RegionPlanner(RegionSettings("tiles", 320, 0.25, 0.02, 64), [tuple(map(tuple, WATER))])
    people = RegionDetector(detector, planner).detect(frame, 0.0, 0.5, frozenset({"person"}))
    assert people, "the pasted player is not found"
    x1, y1, x2, y2 = people[0].box
    assert 1500 / 1920 - 0.02 < (x1 + x2) / 2 < (1500 + small.shape[1]) / 1920 + 0.02
    assert 800 / 1080 - 0.02 < (y1 + y2) / 2 < (800 + small.shape[0]) / 1080 + 0.02


def test_a_person_split_across_two_tiles_is_one_box(detector: SsdDetector) -> None:
    whole = RegionDetection(Detection((0.40, 0.50, 0.46, 0.70), 0.8, 0, "person"), region=1)
    part = RegionDetection(Detection((0.40, 0.50, 0.43, 0.66), 0.6, 0, "person"), region=2, sides="l")
    other = RegionDetection(Detection((0.60, 0.50, 0.66, 0.70), 0.7, 0, "person"), region=2)
    merged = merge_regions([part, whole, other])
    assert [d.box for d in merged] == [(0.40, 0.50, 0.46, 0.70), (0.60, 0.50, 0.66, 0.70)]
    # Two halves cut by their tiles' edges become their union.
    left = RegionDetection(Detection((0.40, 0.50, 0.45, 0.70), 0.7, 0, "person"), region=1, sides="r")
    right = RegionDetection(Detection((0.43, 0.52, 0.48, 0.70), 0.6, 0, "person"), region=2, sides="l")
    assert [d.box for d in merge_regions([left, right])] == [(0.40, 0.50, 0.48, 0.70)]
    # Halves cut at sides that do not face each other are two people side by side, not one.
    assert len(merge_regions([left, RegionDetection(right.det, region=2, sides="b")])) == 2
    # The real model: a player standing on the seam of two tiles (seen whole in one, cut in the other).
    player = cv2.imread(str(BASKETBALL))[0:480, 400:640]
    small = cv2.resize(player, None, fx=0.5, fy=0.5)  # 240x120
    frame = np.full((1080, 1920, 3), 120, np.uint8)
    planner = RegionPlanner(RegionSettings("tiles", 320, 0.25, 0.0, 64), [tuple(map(tuple, WATER))])
    tiles = planner.layout(1920, 1080)
    seam = tiles[2].x  # the second tile of the first row starts here, inside the first (tiles[0] is the whole crop)
    frame[700:700 + small.shape[0], seam - 40:seam - 40 + small.shape[1]] = small
    rd = RegionDetector(detector, planner)
    people = rd.detect(frame, 0.0, 0.5, frozenset({"person"}))
    near = [d for d in people if abs((d.box[0] + d.box[2]) / 2 * 1920 - (seam + 20)) < 100]
    cut = [r for r in planner.regions if any(x.cut for x in r.found)]
    assert cut, "the player is not cut by any tile: the test does not test the merge"
    assert len(near) == 1, [d.box for d in people]


def test_the_budget_holds_moving_tiles_go_first_and_every_tile_is_revisited() -> None:
    settings = RegionSettings("tiles", 320, 0.25, 0.02, max_invokes=4, revisit_s=2.0)
    planner = RegionPlanner(settings, [tuple(map(tuple, WATER))])
    rng = np.random.default_rng(0)
    still = np.full((1080, 1920, 3), 100, np.uint8)
    visits: dict[int, list[float]] = {}
    moving_first = 0
    for i in range(100):  # 10 s at 10 fps
        now = i / 10
        frame = np.clip(still.astype(np.int16) + rng.normal(0, 2, still.shape).astype(np.int16), 0, 255).astype(np.uint8)
        x = 200 + 12 * i  # a swimmer crossing the water
        frame[900:940, x:x + 16] = 20
        chosen = planner.plan(frame, now)
        assert len(chosen) <= 4
        for c in chosen:
            visits.setdefault(c, []).append(now)
        rects = [planner.regions[c].rect for c in chosen]
        if i > 10 and any(r.x <= x and x + 16 <= r.x2 and r.y <= 900 for r in rects):
            moving_first += 1
    count = len(planner.regions)
    assert count > 4 and set(visits) == set(range(count))
    for times in visits.values():
        gaps = np.diff([0.0, *times, 9.9])
        assert gaps.max() <= 2.0 + 0.5, times
    assert moving_first >= 80  # the swimmer's tile is run on nearly every frame


def test_a_quiet_scene_stays_cheap_and_still_visits_every_tile(plaza: np.ndarray) -> None:
    cam = camera("tiles", max_invokes=6, revisit_s=2.0).model_copy(update={"motion": camera("full").motion.model_copy(update={"enabled": True})})
    pipeline = build_pipeline(cam)
    assert pipeline.regions is not None
    invokes = 0
    for i in range(60):  # 6 s at 10 fps of a picture that does not change
        obs = pipeline.process(plaza, i / 10)
        invokes += obs.invokes
    regions = len(pipeline.regions.planner.regions)
    # Each region once per 2 s (3 sweeps) plus the first sweep: nowhere near 6 invokes x 60 frames.
    assert regions * 3 <= invokes <= regions * 4 + 6
    assert all(r.last_visit is not None and r.last_visit >= 6.0 - 2.0 - 0.3 for r in pipeline.regions.planner.regions)


def test_the_regions_config_is_described_and_rejects_nonsense() -> None:
    assert all(f.description for f in RegionsConfig.model_fields.values())
    assert RegionsConfig().mode == "full"
    for bad, words in [
        ({"mode": "everything"}, "mode"),
        ({"overlap": 0.9}, "overlap"),
        ({"tile_size": 8}, "tile_size"),
        ({"max_invokes": 0}, "max_invokes"),
        ({"tile": 320}, "tile"),
    ]:
        with pytest.raises(ValidationError) as err:
            camera("tiles", **bad) if "mode" not in bad else CameraConfig.model_validate({
                "id": "pond", "driver": {"type": "file", "path": "x.avi"},
                "detection": {"model": {"path": str(DETECT)}, "regions": bad},
            })
        assert words in str(err.value) and "regions" in str(err.value)


def far_swimmers(plaza: np.ndarray, count: int = 10) -> list[np.ndarray]:
    """vtest.avi's walkers at 0.3 (about 20-35 px tall) pasted into the water of a 1080p plaza."""
    out = []
    for f in read_frames(VTEST, count):
        small = cv2.resize(f, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
        frame = plaza.copy()
        frame[820:820 + small.shape[0], 1000:1000 + small.shape[1]] = small
        out.append(frame)
    return out


def test_far_swimmers_are_found_with_tiles_and_not_on_the_whole_frame(plaza: np.ndarray) -> None:
    clip = far_swimmers(plaza)
    found = {}
    for mode in ("full", "zones", "tiles"):
        pipeline = build_pipeline(camera(mode))
        small: list[int] = []
        for i, frame in enumerate(clip):
            obs = pipeline.process(frame, i / 10)
            small.append(sum(1 for d in obs.people if (d.box[3] - d.box[1]) * 1080 <= 50 and d.box[1] > 0.7))
        found[mode] = small
    assert max(found["full"]) == 0
    assert min(found["tiles"][3:]) >= 2, found  # the first frames sweep the tiles within the budget


def test_the_far_band_adds_finer_tiles_over_the_top_of_the_zone() -> None:
    plain = RegionPlanner(RegionSettings("tiles", 320, 0.25, 0.02), [tuple(map(tuple, WATER))]).layout(1920, 1080)
    banded = RegionPlanner(RegionSettings("tiles", 320, 0.25, 0.02, far_band=1 / 3, far_tile=96), [tuple(map(tuple, WATER))]).layout(1920, 1080)
    crop = zone_crop([tuple(p) for p in WATER], 1920, 1080, 0.02)
    bottom = crop.y + round(crop.h / 3)
    extra = banded[len(plain):]
    assert banded[: len(plain)] == plain and extra
    covered = np.zeros((1080, 1920), bool)
    for r in extra:
        assert (r.w, r.h) == (96, 96) and crop.y <= r.y and r.y2 <= bottom
        covered[r.y:r.y2, r.x:r.x2] = True
    assert covered[crop.y:bottom, :].all() and covered.sum() == 1920 * (bottom - crop.y)
    pipeline = build_pipeline(camera("tiles", far_band=0.25, far_tile_size=128))
    assert pipeline.regions is not None and pipeline.regions.planner.settings.far_tile == 128
    for bad in ({"far_band": 1.5}, {"far_tile_size": 16}):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            camera("tiles", **bad)


def test_a_swimmer_does_not_wait_behind_overdue_still_water() -> None:
    """More tiles than the budget revisits in revisit_s (a far band): the moving tile still runs."""
    settings = RegionSettings("tiles", 320, 0.25, 0.02, max_invokes=3, revisit_s=2.0, far_band=1 / 3, far_tile=96)
    planner = RegionPlanner(settings, [tuple(map(tuple, WATER))])
    rng = np.random.default_rng(0)
    still = np.full((1080, 1920, 3), 100, np.uint8)
    regions = len(planner.layout(1920, 1080))
    assert regions > 3 * 20  # more than 2 s of budget at 10 fps
    seen, visited = 0, set()
    for i in range(200):
        frame = np.clip(still.astype(np.int16) + rng.normal(0, 2, still.shape).astype(np.int16), 0, 255).astype(np.uint8)
        x = 100 + 8 * i
        frame[700:714, x:x + 6] = 20  # a far swimmer, 14 px
        chosen = planner.plan(frame, i / 10)
        visited.update(chosen)
        seen += i >= 40 and any(planner.regions[c].rect.x <= x and x + 6 <= planner.regions[c].rect.x2 and planner.regions[c].rect.y <= 700 for c in chosen)
    assert seen >= 0.8 * 160 and visited == set(range(regions))


def test_walkers_15_px_tall_on_the_far_water_are_found_only_with_the_far_band(plaza: np.ndarray) -> None:
    """vtest.avi at 0.15 (people 12-17 px) at the top of the water: 320 px tiles shrink nobody but
    cannot see them; the far band's 96 px tiles zoomed to the model's input can (COCO head)."""
    clip = []
    for f in read_frames(VTEST, 8):
        small = cv2.resize(f, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)
        frame = plaza.copy()
        frame[700:700 + small.shape[0], 1000:1000 + small.shape[1]] = small
        clip.append(frame)
    found = {}
    for band in (0.0, 0.33):
        pipeline = build_pipeline(camera("tiles", max_invokes=64, far_band=band, far_tile_size=96))  # 96: COCO's best (64 is the swimmer head's)
        found[band] = [sum(1 for d in pipeline.process(frame, i / 10).people if (d.box[3] - d.box[1]) * 1080 <= 40) for i, frame in enumerate(clip)]
    assert max(found[0.0]) <= 1 and min(found[0.33]) >= 3, found


def test_neighbouring_swimmers_across_a_seam_stay_two_people() -> None:
    """A cut box from the next tile that covers most of one swimmer and part of the next does not
    widen the first swimmer's box over the second (the union it used to take joined neighbours and
    capped recall on the lifeguard photos at 0.85 whatever the threshold)."""
    a = RegionDetection(Detection((0.40, 0.50, 0.44, 0.60), 0.9, 0, "person"), region=1)
    spanning = RegionDetection(Detection((0.41, 0.50, 0.47, 0.60), 0.6, 0, "person"), region=2, sides="l")
    b = RegionDetection(Detection((0.45, 0.50, 0.49, 0.60), 0.55, 0, "person"), region=2)
    merged = merge_regions([spanning, b, a])
    assert [d.box for d in merged] == [(0.40, 0.50, 0.44, 0.60), (0.45, 0.50, 0.49, 0.60)]
    assert [d.score for d in merged] == [0.9, 0.55]
    # The part seen first (a better score) still gives way to the box of the person seen whole.
    part = RegionDetection(Detection((0.40, 0.50, 0.43, 0.58), 0.95, 0, "person"), region=2, sides="l")
    [one] = merge_regions([part, a])
    assert one.box == (0.40, 0.50, 0.44, 0.60) and one.score == 0.95
