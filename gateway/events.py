"""What the loops tell the brain: one frozen type per kind of event, dispatched by type.

Device, camera, uplink and loudspeaker threads put these into the brain's inbox; only the brain
thread acts on them, so the rules, the alarm book and the command desk need no locks.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

from gateway.alarms import AlarmSignal
from gateway.announcer import PlayReport


@dataclass(frozen=True, slots=True)
class WaterObserved:
    """One read of a water sensor: a level, or the error that prevented it."""

    sensor_id: str
    level_m: float | None
    at: float  # monotonic
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FireObserved:
    """One read of a fire/smoke input: active or not, or the error that prevented it."""

    input_id: str
    active: bool | None
    at: float  # monotonic
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SignalRaised:
    """An alarm signal a loop worked out itself (cameras)."""

    signal: AlarmSignal


@dataclass(frozen=True, slots=True)
class PlaybackDone:
    """The loudspeaker finished with an announcement (played, pre-empted, expired, failed...)."""

    report: PlayReport


@dataclass(frozen=True, slots=True)
class CommandReceived:
    """A message on the station's `cmd/#` topics, as it came from the broker."""

    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class LinkChanged:
    """A device driver went offline or answers again."""

    device: str
    online: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class LoopCrashed:
    """A loop died on an unexpected error and is being restarted."""

    loop: str
    error: str


@dataclass(frozen=True, slots=True)
class Stop:
    """The brain ends when it takes this."""


Event = WaterObserved | FireObserved | SignalRaised | PlaybackDone | CommandReceived | LinkChanged | LoopCrashed | Stop
Inbox = queue.Queue[Event]
