"""What the command desk may touch of its station: exactly this, handed over once at construction.

A small record of values and callables instead of the station itself, so the desk depends on
no station internals and the station module is free to change; a test can build one by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.alarms import OpenAlarm, Transition
from gateway.announcer import Announcer
from gateway.config.station import StationConfig
from gateway.uplink.mqtt import UplinkStats
from gateway.uplink.outbox import OutboxStats
from wire.messages import Topics


class PublishFn(Protocol):
    def __call__(self, topic: str, klass: int, make: Callable[[dict[str, Any]], Any], event_id: str | None = None) -> int | None: ...


class NoticeFn(Protocol):
    def __call__(self, notice: str, summary: str, severity: str = "warning", source: str = "", details: dict[str, Any] | None = None) -> None: ...


def no_cameras(event_id: str, hours: float) -> dict[str, Any]:
    """`suppress_false_alarm` of a station without cameras."""
    raise ValueError("this station has no camera watching for fire or smoke")


@dataclass(frozen=True, slots=True)
class DeskPort:
    """The station as the command desk sees it."""

    cfg: StationConfig  # config/get, the config hash, the loop stall limit
    topics: Topics  # reply topics, and the prefix a command topic must carry
    boot_id: str
    announcer: Announcer | None  # None: a station without a loudspeaker
    publish: PublishFn  # a message around a fresh envelope into the outbox (replies)
    notice: NoticeFn  # a one-off health event (rejections, rollbacks, key problems)
    acknowledge: Callable[[str, str], Transition | None]  # (event_id, operator): the alarm's acked step, or None
    silence: Callable[[float, bool], None]  # (duration_s, emergencies too), kept across restarts
    request_exit: Callable[[int], None]  # end the process with this code (systemd restarts it)
    exit_requested: Callable[[], bool]
    capabilities: Callable[[], list[str]]
    uptime_s: Callable[[], float]
    link: Callable[[], UplinkStats]  # connected, last error
    queue: Callable[[], OutboxStats]
    alarms_queued: Callable[[], bool]  # alarm-class messages still waiting in the outbox
    open_alarms: Callable[[], list[OpenAlarm]]
    stalled_loops: Callable[[float], list[str]]  # loops silent for longer than the limit given
    devices: Callable[[], dict[str, str]]  # device -> "ok" or what is wrong with it
    # (event_id, hours): suppress that camera fire/smoke alarm's spot; the reply's result (ValueError when it cannot)
    suppress_false_alarm: Callable[[str, float], dict[str, Any]] = no_cameras
