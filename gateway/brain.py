"""The brain thread: takes the loops' events from its inbox one at a time and acts on each by its type.

Being the only thread that acts on events, it lets the rules, the alarm book and the command
desk go without locks. Once a second it runs the time-based steps (outbox reopening and drop
reports, stale sensors, the desk's pending work); every `health.interval_s` it publishes health.
One event that fails is logged and the brain goes on with the next.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import Any

from gateway.command_side import CommandSide
from gateway.decisions import Decisions
from gateway.events import (
    CommandReceived,
    Event,
    FireObserved,
    Inbox,
    LinkChanged,
    LoopCrashed,
    PlaybackDone,
    SignalRaised,
    Stop,
    WaterObserved,
)
from gateway.health_report import HealthReport
from gateway.loudspeaker import Loudspeaker
from gateway.publisher import Publisher

log = logging.getLogger(__name__)

TICK_S = 1.0


class Brain:
    """Dispatches inbox events to the decision step, the loudspeaker side, the command side and notices."""

    def __init__(self, inbox: Inbox, clock: Callable[[], float], beat: Callable[[str], None], publisher: Publisher,
                 decisions: Decisions, loudspeaker: Loudspeaker | None, commands: CommandSide, health: HealthReport,
                 health_interval_s: float) -> None:
        self._inbox = inbox
        self._clock = clock
        self._beat = beat
        self._publisher = publisher
        self._decisions = decisions
        self._loudspeaker = loudspeaker
        self._commands = commands
        self._health = health
        self._health_interval_s = health_interval_s
        self._handlers: dict[type, Callable[[Any, float], None]] = {
            WaterObserved: self._on_water,
            FireObserved: self._on_fire,
            SignalRaised: self._on_signal,
            PlaybackDone: self._on_playback,
            CommandReceived: self._on_command,
            LinkChanged: self._on_link,
            LoopCrashed: self._on_crash,
        }

    def run(self) -> None:
        """The loop; returns when it takes `Stop`."""
        next_tick = self._clock()
        next_health = self._clock() + min(5.0, self._health_interval_s)
        while True:
            self._beat("brain")
            event: Event | None
            try:
                event = self._inbox.get(timeout=max(0.0, next_tick - self._clock()))
            except queue.Empty:
                event = None  # time for the tick
            now = self._clock()
            try:
                if isinstance(event, Stop):
                    return
                if event is not None:
                    self._handlers[type(event)](event, now)
                if now >= next_tick:
                    self._tick(now)
                    next_tick = now + TICK_S
                if now >= next_health:
                    self._health.publish()
                    next_health = now + self._health_interval_s
            except Exception:  # noqa: BLE001 - one bad observation must not stop the brain
                log.exception("brain: failed on %s", type(event).__name__ if event is not None else "tick")

    def _tick(self, now: float) -> None:
        self._publisher.retry_open()
        self._decisions.tick(now)
        self._commands.tick(now)
        self._publisher.report_drops()

    def _on_water(self, e: WaterObserved, now: float) -> None:
        self._decisions.on_water(e.sensor_id, e.level_m, e.at, e.error)

    def _on_fire(self, e: FireObserved, now: float) -> None:
        self._decisions.on_fire(e.input_id, e.active, e.at, e.error)

    def _on_signal(self, e: SignalRaised, now: float) -> None:
        self._decisions.on_signal(e.signal, now)

    def _on_playback(self, e: PlaybackDone, now: float) -> None:
        if self._loudspeaker is not None:
            self._loudspeaker.publish_playback(e.report)
        self._commands.on_playback(e.report)

    def _on_command(self, e: CommandReceived, now: float) -> None:
        self._commands.handle(e.topic, e.payload)

    def _on_link(self, e: LinkChanged, now: float) -> None:
        if e.online:
            self._publisher.notice("device_online", f"{e.device} is answering again", severity="info", source=e.device)
        else:
            self._publisher.notice("device_offline", f"{e.device} went offline: {e.error}", severity="warning", source=e.device,
                                   details={"error": e.error})

    def _on_crash(self, e: LoopCrashed, now: float) -> None:
        self._publisher.notice("loop_crash", f"loop {e.loop} crashed and was restarted: {e.error}", source=e.loop)
