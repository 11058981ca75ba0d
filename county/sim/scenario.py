"""What a simulated station says, and when: a pure step function, time and randomness passed in.

`step(state, now, params, rng) -> (state, emits)`, like the gateway's rules, so a day of a
station runs in a test in milliseconds and a fleet of a thousand is reproducible from a seed.
An emit names the message and its fields; the simulated station wraps it in the envelope and
the wire model (wire.messages) when it puts it into its outbox.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

ALARM_KINDS = (("water_level", "gauge-1", "danger"), ("person_in_water_zone", "cam-1/zone-swim", "danger"), ("smoke", "smoke-1", "warning"))


@dataclass(frozen=True, slots=True)
class ScenarioParams:
    """How chatty every station of the fleet is."""

    telemetry_s: float = 5.0
    health_s: float = 60.0
    alarm_every_s: float = 300.0  # mean time between alarms of one station (exponential); 0: never
    alarm_duration_s: float = 30.0
    camera_share: float = 0.3  # share of stations with a camera (fps in health)


@dataclass(frozen=True, slots=True)
class OpenSimAlarm:
    event_id: str
    kind: str
    source: str
    severity: str
    raised_at: float  # wall time
    clear_at: float  # monotonic time


@dataclass(frozen=True, slots=True)
class ScenarioState:
    next_telemetry: float
    next_health: float
    next_alarm: float
    level_m: float = 0.8
    has_camera: bool = False
    alarm: OpenSimAlarm | None = None
    samples: tuple[float, ...] = ()

    @property
    def due(self) -> float:
        """The next instant at which `step` has something to do."""
        return min(self.next_telemetry, self.next_health, self.alarm.clear_at if self.alarm else self.next_alarm)


@dataclass(frozen=True, slots=True)
class Emit:
    """One message to make: `what` is telemetry, health, alarm or playback."""

    what: str
    fields: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None


def _next_alarm(now: float, params: ScenarioParams, rng: random.Random) -> float:
    return now + rng.expovariate(1.0 / params.alarm_every_s) if params.alarm_every_s > 0 else float("inf")


def initial(now: float, params: ScenarioParams, rng: random.Random) -> ScenarioState:
    """Phases spread at random, so a fleet does not speak in lock-step."""
    return ScenarioState(
        next_telemetry=now + rng.uniform(0, params.telemetry_s),
        next_health=now + rng.uniform(0, params.health_s),
        next_alarm=_next_alarm(now, params, rng),
        level_m=round(rng.uniform(0.4, 1.2), 3),
        has_camera=rng.random() < params.camera_share,
    )


def step(state: ScenarioState, now: float, wall: float, params: ScenarioParams, rng: random.Random) -> tuple[ScenarioState, list[Emit]]:
    """Advance to `now` (monotonic; `wall` stamps alarms): whatever is due is emitted, at most once per kind."""
    emits: list[Emit] = []
    level = max(0.0, round(state.level_m + rng.uniform(-0.01, 0.01), 3))
    samples = (*state.samples, level)
    s = replace(state, level_m=level, samples=samples)
    if s.alarm is None and now >= s.next_alarm:
        kind, source, severity = rng.choice(ALARM_KINDS)
        alarm = OpenSimAlarm(f"{rng.getrandbits(64):016x}", kind, source, severity, wall, now + params.alarm_duration_s)
        emits.append(Emit("alarm", _alarm_fields(alarm, "raised"), alarm.event_id))
        emits.append(Emit("playback", {"key": kind, "ref": alarm.event_id, "what": "危险，请远离", "priority": "emergency",
                                       "outcome": "completed", "plays": 1}))
        s = replace(s, alarm=alarm)
    elif s.alarm is not None and now >= s.alarm.clear_at:
        emits.append(Emit("alarm", _alarm_fields(s.alarm, "cleared"), s.alarm.event_id))
        s = replace(s, alarm=None, next_alarm=_next_alarm(now, params, rng))
    if now >= s.next_telemetry:
        emits.append(Emit("telemetry", {"sensor": "gauge-1", "samples": len(samples), "values": {
            "level_m": level, "level_min_m": min(samples), "level_max_m": max(samples), "band": 0}}))
        s = replace(s, samples=(), next_telemetry=max(s.next_telemetry + params.telemetry_s, now))
    if now >= s.next_health:
        fps = {"cam-1": round(rng.uniform(8.0, 15.0), 1)} if s.has_camera else {}
        emits.append(Emit("health", {"camera_fps": fps}))
        s = replace(s, next_health=max(s.next_health + params.health_s, now))
    return s, emits


def _alarm_fields(alarm: OpenSimAlarm, state: str) -> dict[str, Any]:
    return {"alarm": alarm.kind, "state": state, "severity": alarm.severity, "category": "safety", "source": alarm.source,
            "summary": f"simulated {alarm.kind} {state}", "raised_at_wall": alarm.raised_at}
