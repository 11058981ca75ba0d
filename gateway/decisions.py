"""The decision step: observations through the pure rules into alarm lifecycles, each published.

Runs on the brain thread only. A water or fire reading goes through the stale and band/debounce
rules; every signal goes into the alarm book; every transition is published on `event/{kind}`
(with a snapshot uploaded on `snapshot/{event_id}` when it is raised, and a fresh one on
`snapshot/{event_id}-{n}` for each escalation the rules bound; every later step refers to the newest),
and an escalation becomes the announcements the loudspeaker config maps to that alarm, except
for a zone that repeats its warning until its water is empty (`gateway.zone_warnings`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from drivers.base import Utterance
from foundation.clock import WallClock
from gateway.alarms import SEVERITY_RANK, AlarmBook, AlarmSignal, OpenAlarm, Transition
from gateway.announcer import Announcement, WarningLight
from gateway.config.station import SpeakerAction, StationConfig
from gateway.publisher import Publisher, iso
from gateway.rules.fire import FireState, fire_step
from gateway.rules.stale import StaleState, stale_step
from gateway.rules.vision_fire import corroborate
from gateway.rules.water import WaterState, water_step
from gateway.uplink.outbox import ALARM, TELEMETRY
from gateway.zone_warnings import ZoneWarnings
from wire.messages import Alarm, SnapshotRef, Telemetry

log = logging.getLogger(__name__)


def announcements_for(alarm: OpenAlarm, actions: Sequence[SpeakerAction], now: float) -> list[Announcement]:
    """The loudspeaker actions configured for an alarm at its severity, as announcements referring to it."""
    out = []
    for action in actions:
        if action.alarm != alarm.kind or SEVERITY_RANK[alarm.severity] < SEVERITY_RANK[action.min_severity]:
            continue
        utterance = Utterance(text=action.text) if action.text is not None else Utterance(clip=action.clip)
        out.append(Announcement(
            key=alarm.kind, utterance=utterance, priority=action.priority, repeat=action.repeat,
            interval_s=action.interval_s, expires_at=now + action.expires_s, cooldown_s=action.cooldown_s, ref=alarm.event_id,
        ))
    return out


@dataclass
class _WaterTrack:
    stale: StaleState
    rule: WaterState = field(default_factory=WaterState)
    samples: list[float] = field(default_factory=list)
    last_telemetry: float = 0.0


@dataclass
class _FireTrack:
    stale: StaleState
    rule: FireState = field(default_factory=FireState)


class HydrologyReports(Protocol):
    """What the decision step tells the hydrology platform's reporter (`gateway.sl651.reporter`)."""

    def on_reading(self, sensor_id: str, level_m: float, now: float, wall: float, voltage: float | None = None) -> int: ...

    def on_alarm(self, kind: str, active: bool, now: float, wall: float, severity: str | None = None, source: str | None = None) -> None: ...


class Decisions:
    """Rule state per sensor and input, the alarm book, and the publishing of every transition."""

    def __init__(
        self,
        cfg: StationConfig,
        alarms: AlarmBook,
        publisher: Publisher,
        clock: Callable[[], float],
        wall: WallClock,
        device_state: dict[str, str],
        send_snapshot: Callable[[str, bytes], None],
        announce: Callable[[Announcement | WarningLight], None] | None,
        hydrology: HydrologyReports | None = None,
    ) -> None:
        """`announce`: the loudspeaker queue (None: a station without a loudspeaker); `hydrology`: the
        SL 651 reporter (None: the station does not report to a hydrology platform)."""
        self.cfg = cfg
        self.alarms = alarms
        self._publisher = publisher
        self._clock = clock
        self._wall = wall
        self._devices = device_state
        self._send_snapshot = send_snapshot
        self._announce = announce
        self._hydrology = hydrology
        self._snapshots: dict[str, tuple[int, SnapshotRef]] = {}  # event_id -> (snapshots sent, the newest)
        self._zone_warnings = (
            ZoneWarnings(cfg, announce, self._minute_of_day) if announce is not None and cfg.loudspeaker is not None else None
        )
        now = clock()
        self._water_cfg = {s.id: s for s in cfg.water_sensors}
        self._fire_cfg = {f.id: f for f in cfg.fire_inputs}
        self._water = {s.id: _WaterTrack(stale=StaleState(since=now)) for s in cfg.water_sensors}
        self._fire = {f.id: _FireTrack(stale=StaleState(since=now)) for f in cfg.fire_inputs}

    # ------------------------------------------------------------------ alarms

    def apply(self, signal: AlarmSignal, now: float) -> None:
        """One signal into the alarm book; each transition published, each escalation announced."""
        if self._hydrology is not None:
            self._hydrology.on_alarm(signal.kind, signal.active, now, self._wall.now(), severity=signal.severity, source=signal.source)
        for tr in self.alarms.apply(signal, now):
            self._publish_transition(tr)
            if self._zone_warnings is not None and self._zone_warnings.handles(tr.alarm):
                self._zone_warnings.on_transition(tr, self._clock())
            elif tr.escalated and self._announce is not None and self.cfg.loudspeaker is not None:
                for announcement in announcements_for(tr.alarm, self.cfg.loudspeaker.actions, self._clock()):
                    self._announce(announcement)

    def _minute_of_day(self) -> int | None:
        """Local minute of the day for quiet hours; None while the wall clock is not trusted."""
        if not self._wall.synced():
            return None
        t = datetime.fromtimestamp(self._wall.now())
        return t.hour * 60 + t.minute

    def restore(self) -> None:
        """At start: the alarms still open when the gateway stopped, published again."""
        for tr in self.alarms.restore(self._clock()):
            self._publish_transition(tr)

    def acknowledge(self, event_id: str, operator: str) -> Transition | None:
        """An operator's acknowledgement: the acked step of the lifecycle, published like every other (None: no such open alarm)."""
        tr = self.alarms.ack(event_id, operator)
        if tr is not None:
            self._publish_transition(tr)
        return tr

    def _publish_transition(self, tr: Transition) -> None:
        a = tr.alarm
        sent, snapshot = self._snapshots.get(a.event_id, (0, None))
        if tr.snapshot_jpeg and tr.state in ("raised", "updated"):  # the rules bound how many: the link is poor
            sent += 1
            topic = self._publisher.topics.snapshot(a.event_id if sent == 1 else f"{a.event_id}-{sent}")
            snapshot = SnapshotRef(topic=topic, bytes=len(tr.snapshot_jpeg), sha256=hashlib.sha256(tr.snapshot_jpeg).hexdigest())
            self._send_snapshot(topic, tr.snapshot_jpeg)
        if tr.state == "cleared":
            self._snapshots.pop(a.event_id, None)
        elif snapshot is not None:
            self._snapshots[a.event_id] = (sent, snapshot)
        summary = tr.reason if tr.state in ("cleared", "acked") and tr.reason else a.summary
        log.info("alarm %s %s/%s %s: %s", tr.state, a.kind, a.source, a.severity, summary)
        self._publisher.publish(
            self._publisher.topics.event(a.kind), ALARM,
            lambda env: Alarm(
                **env, alarm=a.kind, state=tr.state, severity=a.severity, category=a.category, source=a.source,
                summary=summary, details=a.details, raised_at=iso(self._wall_of(a.raised_at)), acked_by=a.acked_by,
                snapshot=snapshot,
            ),
            event_id=a.event_id,
        )

    def _wall_of(self, mono: float) -> float:
        """Wall time of a monotonic instant (alarms are timed on the monotonic clock)."""
        return self._wall.now() - (self._clock() - mono)

    # ------------------------------------------------------------------ observations

    def on_signal(self, signal: AlarmSignal, now: float) -> None:
        """A camera's signal; its fire/smoke is escalated to critical when a GPIO fire/smoke input agrees."""
        active_inputs = [i for i, track in self._fire.items() if track.rule.alarmed]
        self.apply(corroborate(signal, active_inputs), now)

    def on_water(self, sensor_id: str, level: float | None, t: float, error: str | None) -> None:
        cfg = self._water_cfg[sensor_id]
        track = self._water[sensor_id]
        self._set_device(sensor_id, error)
        track.stale, signals = stale_step(track.stale, t, source=sensor_id, stale_after_s=cfg.stale_after_s, ok=level is not None, error=error or "")
        for s in signals:
            self.apply(s, t)
        if level is None:
            return
        track.rule, signals = water_step(track.rule, cfg.rules, sensor_id, level, t)
        for s in signals:
            self.apply(s, t)
        track.samples.append(level)
        if self._hydrology is not None:
            self._hydrology.on_reading(sensor_id, level, t, self._wall.now())
        if t - track.last_telemetry >= cfg.telemetry_interval_s:
            self._publish_water_telemetry(sensor_id, track)
            track.last_telemetry = t

    def on_fire(self, input_id: str, active: bool | None, t: float, error: str | None) -> None:
        cfg = self._fire_cfg[input_id]
        track = self._fire[input_id]
        self._set_device(input_id, error)
        track.stale, signals = stale_step(track.stale, t, source=input_id, stale_after_s=max(30.0, cfg.poll_interval_s * 20), ok=active is not None, error=error or "")
        for s in signals:
            self.apply(s, t)
        if active is None:
            return
        track.rule, signals = fire_step(track.rule, active, t, kind=cfg.kind, source=input_id,
                                        debounce_s=cfg.debounce_s, min_clear_s=cfg.min_clear_s)
        for s in signals:
            self.apply(s, t)

    def tick(self, now: float) -> None:
        """Once a second: time-based rules (a water sensor that has gone quiet), warnings repeated while a zone is occupied."""
        if self._zone_warnings is not None:
            self._zone_warnings.tick(now)
        for sensor_id, track in self._water.items():
            track.stale, signals = stale_step(track.stale, now, source=sensor_id, stale_after_s=self._water_cfg[sensor_id].stale_after_s, ok=None)
            for s in signals:
                self.apply(s, now)

    def _set_device(self, device: str, error: str | None) -> None:
        state = "ok" if error is None else f"offline: {error}"
        previous = self._devices.get(device)
        self._devices[device] = state
        if previous is not None and previous != state and (error is None) != previous.startswith("offline"):
            if error is None:
                log.info("%s back online", device)
            else:
                log.warning("%s offline: %s", device, error)

    def _publish_water_telemetry(self, sensor_id: str, track: _WaterTrack) -> None:
        samples, track.samples = track.samples, []
        values = {
            "level_m": samples[-1],
            "level_min_m": min(samples),
            "level_max_m": max(samples),
            "band": {"normal": 0, "warning": 1, "danger": 2}[track.rule.band],
        }
        self._publisher.publish(self._publisher.topics.telemetry(sensor_id), TELEMETRY,
                                lambda env: Telemetry(**env, sensor=sensor_id, values=values, samples=len(samples)))
