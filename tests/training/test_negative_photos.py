"""The photos of nobody the training experiments render: a panorama seen where the camera is turned, ground
textures repeated across a frame (training.fire.interior_negatives, training.swim.ground_negatives)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.fire.interior_negatives import exposed, linear, view
from training.swim.ground_negatives import kept_aside, render


def panorama_with_a_lamp(lon_deg: float, lat_deg: float) -> np.ndarray:
    """A dark 2:1 panorama with one bright spot at (longitude, latitude), latitude positive downwards."""
    h, w = 512, 1024
    pano = np.full((h, w, 3), 0.05, np.float32)
    x, y = int((lon_deg / 360 + 0.5) * w), int((lat_deg / 180 + 0.5) * h)
    pano[y - 4 : y + 4, x - 4 : x + 4] = 50.0
    return pano


def brightest(image: np.ndarray) -> tuple[int, int]:
    """The centre of the bright spot (the lamp spreads over many pixels once seen up close)."""
    lum = image.sum(axis=-1)
    assert lum.max() > 10, "the lamp is not in the photo"
    ys, xs = np.nonzero(lum > lum.max() / 2)
    return int(round(xs.mean())), int(round(ys.mean()))


def test_the_camera_sees_the_lamp_it_is_turned_to() -> None:
    pano = panorama_with_a_lamp(90, 0)
    x, y = brightest(view(pano, np.radians(90), 0.0, np.radians(60)))
    assert abs(x - 320) <= 6 and abs(y - 240) <= 6  # turned to it: in the middle of the photo
    assert view(pano, 0.0, 0.0, np.radians(60)).max() < 1.0  # facing away: not in the photo at all


def test_looking_up_puts_a_high_lamp_in_the_middle_and_the_horizon_lower() -> None:
    pano = panorama_with_a_lamp(0, -20)  # 20 degrees above the horizon, straight ahead
    _, level = brightest(view(pano, 0.0, 0.0, np.radians(80)))
    _, raised = brightest(view(pano, 0.0, np.radians(20), np.radians(80)))
    assert level < 240 - 50 and abs(raised - 240) <= 6


def test_exposure_clips_the_lamp_and_keeps_the_room_visible() -> None:
    photo = exposed(view(panorama_with_a_lamp(0, 0), 0.0, 0.0, np.radians(60)), np.random.default_rng(1))
    assert photo.dtype == np.uint8 and photo.max() == 255 and 60 < np.median(photo) < 200


def test_a_ground_texture_fills_the_frame_repeated() -> None:
    texture = np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    frame = render(texture, (320, 180), np.random.default_rng(3))
    assert frame.shape == (180, 320, 3) and frame.std() > 20


def test_textures_are_kept_aside_by_name_the_same_way_every_time() -> None:
    names = [f"texture_{i}" for i in range(200)]
    aside = [n for n in names if kept_aside(n)]
    assert aside == [n for n in names if kept_aside(n)] and 20 <= len(aside) <= 60


def test_a_grey_or_transparent_panorama_reads_as_colour(tmp_path: Path) -> None:
    grey, rgba = tmp_path / "grey.png", tmp_path / "rgba.png"
    cv2.imwrite(str(grey), np.full((64, 128), 128, np.uint8))
    cv2.imwrite(str(rgba), np.full((64, 128, 4), 200, np.uint8))
    for path in (grey, rgba):
        light = linear(path)
        assert light.shape == (64, 128, 3) and 0.0 < float(light.min()) <= float(light.max()) < 1.0
