"""Capability protocols every driver implements, and the reading types they return.

The gateway depends on these protocols only; the concrete driver is chosen by the config's
`type` in `gateway.devices`. A driver raises `DeviceUnavailable` when its device cannot be
reached and `BadFrame` for a reading it had to skip; it never raises anything else on purpose.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from foundation.errors import BadFrame, DeviceUnavailable

__all__ = [
    "BadFrame",
    "DeviceUnavailable",
    "WaterReading",
    "WaterLevelSensor",
    "FireInput",
    "Utterance",
    "PlayResult",
    "Speaker",
    "Relay",
    "Frame",
    "Camera",
]


@dataclass(frozen=True, slots=True)
class WaterReading:
    """One water-level reading: `level_m` above the station datum; `raw` is what the device said."""

    level_m: float
    raw: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class WaterLevelSensor(Protocol):
    """A water-level sensor: returns one reading per call, or raises DeviceUnavailable."""

    def read(self) -> WaterReading: ...

    def close(self) -> None: ...


@runtime_checkable
class FireInput(Protocol):
    """A fire or smoke input (flame sensor, smoke-detector contact, gas threshold): True = active."""

    def is_active(self) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Utterance:
    """What the loudspeaker should play: a WAV clip path or text to speak (never both)."""

    text: str | None = None
    clip: str | None = None
    voice: str = "cmn"

    def __post_init__(self) -> None:
        if (self.text is None) == (self.clip is None):
            raise ValueError("an utterance is either text or a clip")

    def describe(self) -> str:
        return self.text if self.text is not None else f"clip:{self.clip}"


@dataclass(frozen=True, slots=True)
class PlayResult:
    """How one play ended: completed, or stopped early because `cancel` was set."""

    completed: bool
    started: float
    ended: float


@runtime_checkable
class Speaker(Protocol):
    """The public-address output. `play` blocks until the end or until `cancel` is set."""

    def play(self, utterance: Utterance, cancel: threading.Event) -> PlayResult: ...

    def close(self) -> None: ...


@runtime_checkable
class Relay(Protocol):
    """A switched output, such as the PA amplifier's power relay."""

    def on(self) -> None: ...

    def off(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """One camera frame: a BGR image (numpy array), its monotonic capture time and its index."""

    image: object
    ts: float
    index: int


@runtime_checkable
class Camera(Protocol):
    """A frame source that keeps only the newest frame; `latest` returns it or None after timeout."""

    def latest(self, newer_than: int = -1, timeout: float = 1.0) -> Frame | None: ...

    def fps(self) -> float: ...

    def close(self) -> None: ...
