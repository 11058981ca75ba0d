"""The learned detector behind the gateway's own frame processor: the alarm rule's N-of-M
persistence and the GPIO corroboration work as they do with the classical detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from drivers.stills import still_clip
from gateway.alarms import AlarmBook
from gateway.rules.vision_fire import corroborate
from gateway.vision.frame_processor import CameraProcessor
from tests.fire_clips import run_still
from tests.fire_learned.conftest import v1_camera
from tests.vision.conftest import BASKETBALL, FIRE_BASKET, MESSI, SMOKE

pytestmark = pytest.mark.timeout(120)


def _camera():
    return v1_camera()


def _run(path: Path, frames: int = 12) -> tuple[list[tuple[int, object]], CameraProcessor]:
    return run_still(_camera(), path, "classical+learned", frames)


def test_fire_raised_after_n_of_m_frames_with_a_snapshot() -> None:
    cam = _camera()
    signals, proc = _run(FIRE_BASKET)
    fire = [(i, s) for i, s in signals if s.kind == "fire" and s.active]
    assert fire, "no fire alarm on the fire still"
    first_frame, first = fire[0]
    assert first_frame == cam.fire_smoke.trigger_frames - 1  # the Nth analysed frame, not earlier
    assert first.source == cam.id and first.severity == "danger" and first.snapshot_jpeg
    assert "fire:" + cam.id in proc.open_alarms()


def test_smoke_photo_raises_smoke_and_people_raise_nothing() -> None:
    signals, _ = _run(SMOKE)
    assert {s.kind for _, s in signals if s.active} == {"smoke"}
    signals, proc = _run(MESSI)
    assert signals == [] and proc.open_alarms() == []


def test_a_gpio_fire_input_escalates_the_learned_camera_alarm() -> None:
    signals, _ = _run(FIRE_BASKET, frames=40)  # 8 s: the rule restates the open alarm every 5 s
    fire = [s for _, s in signals if s.kind == "fire" and s.active]
    assert len(fire) >= 2
    book = AlarmBook()
    first = book.apply(corroborate(fire[0], []), 0.0)
    assert [(t.state, t.alarm.severity) for t in first] == [("raised", "danger")]
    up = book.apply(corroborate(fire[-1], ["smoke-1"]), 5.0)
    assert [(t.state, t.alarm.severity) for t in up] == [("updated", "critical")]


def test_clears_after_the_fire_is_gone() -> None:
    cam = _camera()
    proc = CameraProcessor(cam)
    t = 0.0
    for frame in still_clip(cv2.imread(str(FIRE_BASKET)), frames=8):
        proc.step(frame, t, 1_800_000_000 + t)
        t += 0.2
    assert "fire:" + cam.id in proc.open_alarms()
    cleared = []
    for frame in still_clip(cv2.imread(str(BASKETBALL)), frames=10):
        t += cam.fire_smoke.clear_after_s / 5
        _, out = proc.step(frame, t, 1_800_000_000 + t)
        cleared += [s for s in out if s.kind == "fire" and not s.active]
    assert cleared and "fire:" + cam.id not in proc.open_alarms()
