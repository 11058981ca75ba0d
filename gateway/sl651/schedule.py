"""When the station reports, as pure rules: `(state, reading, now) -> (state, reports)`.

- 32 timed report at every multiple of `timed_report_s` on the frames' wall clock (and the
  first reading after start), so the platform sees whole-minute observation times;
- 33 added report the moment a reading crosses the warning or danger mark or the rise rate
  trips — the station's own water rules (`gateway.rules.water`), so the platform and the
  loudspeaker agree on when the water is dangerous;
- 34 hourly report once the hour's last 5-minute mark is read (or the next hour begins): the
  first reading at or after each mark, missing marks sent as FFFF.
Reports carry their elements already encoded, observation time included: a report queued
during an outage goes out later with the time it was observed, never the time it was sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from gateway.config.station import WaterRules
from gateway.rules.water import WaterState, water_step
from gateway.sl651 import elements as el
from gateway.sl651.frames import ADDED, HOURLY, TEST, TIMED

MARK_S = 300
RANK = {"normal": 0, "warning": 1, "danger": 2}
HOUR_S = 3600


@dataclass(frozen=True, slots=True)
class Report:
    """One queued report: its function, observation time and encoded elements."""

    function: int
    observed: float
    elements: bytes


@dataclass(frozen=True, slots=True)
class Reading:
    level_m: float
    wall: float
    voltage: float | None = None


@dataclass(frozen=True, slots=True)
class ReportRules:
    """What the rules need of the config, flattened so they stay pure and easy to test."""

    station_address: str
    station_type: int
    utc_offset_h: float
    timed_report_s: float
    hourly_report: bool
    water: WaterRules


@dataclass(frozen=True, slots=True)
class ScheduleState:
    water: WaterState = WaterState()
    timed_slot: int | None = None
    hour_end: int | None = None  # local-time seconds of the whole hour the pending group ends at
    hour_levels: tuple[float | None, ...] = (None,) * 12
    hour_sent: bool = False
    meter_fault: bool = False
    battery_low: bool = False
    last: Reading | None = None
    added: int = 0


def status_bits(state: ScheduleState) -> int:
    bits = 0
    if state.water.band != "normal" or state.water.flash:
        bits |= 1 << el.BIT_LEVEL_ALARM
    if state.meter_fault:
        bits |= 1 << el.BIT_LEVEL_METER_FAULT
    if state.battery_low:
        bits |= 1 << el.BIT_BATTERY_LOW
    return bits


def observation(rules: ReportRules, state: ScheduleState, reading: Reading) -> bytes:
    """The elements of a level report (30, 32, 33, answers to 37)."""
    out = el.station(rules.station_address, rules.station_type) + el.observed(reading.wall, rules.utc_offset_h)
    out += el.river_level(reading.level_m)
    if reading.voltage is not None:
        out += el.voltage(reading.voltage)
    return out + el.status(status_bits(state))


def test_report(rules: ReportRules, state: ScheduleState, wall: float) -> Report | None:
    """A test report (30) of the latest reading, for commissioning; None before any reading."""
    if state.last is None:
        return None
    return Report(TEST, wall, observation(rules, state, state.last))


def _hourly(rules: ReportRules, hour_end_local: int, levels: tuple[float | None, ...]) -> Report:
    wall = hour_end_local - rules.utc_offset_h * HOUR_S
    body = el.station(rules.station_address, rules.station_type) + el.observed(wall, rules.utc_offset_h) + el.levels_5min(levels)
    return Report(HOURLY, wall, body)


def _hour_step(rules: ReportRules, state: ScheduleState, reading: Reading) -> tuple[ScheduleState, list[Report]]:
    local = reading.wall + rules.utc_offset_h * HOUR_S
    mark = math.floor(local / MARK_S) * MARK_S
    hour_end = math.ceil(mark / HOUR_S) * HOUR_S if mark % HOUR_S else mark
    index = (mark - (hour_end - HOUR_S)) // MARK_S - 1
    reports: list[Report] = []
    if state.hour_end is None or hour_end != state.hour_end:
        if state.hour_end is not None and hour_end > state.hour_end and not state.hour_sent and any(v is not None for v in state.hour_levels):
            reports.append(_hourly(rules, state.hour_end, state.hour_levels))
        state = replace(state, hour_end=hour_end, hour_levels=(None,) * 12, hour_sent=False)
    if state.hour_levels[index] is None:
        levels = list(state.hour_levels)
        levels[index] = reading.level_m
        state = replace(state, hour_levels=tuple(levels))
    if index == 11 and not state.hour_sent:
        reports.append(_hourly(rules, hour_end, state.hour_levels))
        state = replace(state, hour_sent=True)
    return state, reports


def step(rules: ReportRules, state: ScheduleState, reading: Reading, now: float) -> tuple[ScheduleState, list[Report]]:
    """Feed one reading of the reported sensor; the new state and the reports it causes."""
    water, _ = water_step(state.water, rules.water, "sl651", reading.level_m, now)
    rose = RANK[water.band] > RANK[state.water.band] or (water.flash and not state.water.flash)
    state = replace(state, water=water, last=reading)
    reports: list[Report] = []
    if rose:
        reports.append(Report(ADDED, reading.wall, observation(rules, state, reading)))
        state = replace(state, added=state.added + 1)
    slot = math.floor((reading.wall + rules.utc_offset_h * HOUR_S) / rules.timed_report_s)
    if state.timed_slot is None or slot > state.timed_slot:
        reports.append(Report(TIMED, reading.wall, observation(rules, state, reading)))
    if state.timed_slot is None or slot != state.timed_slot:
        state = replace(state, timed_slot=slot)  # a clock stepped back waits for the next new slot
    if rules.hourly_report:
        state, hourly = _hour_step(rules, state, reading)
        reports.extend(hourly)
    return state, reports


def on_alarm(state: ScheduleState, kind: str, active: bool) -> ScheduleState:
    """Station alarms that set status bits of element 45 (sensor faults, low battery)."""
    if kind in ("sensor_stale", "sensor_fault"):
        return replace(state, meter_fault=active)
    if kind in ("battery_low", "power_low"):
        return replace(state, battery_low=active)
    return state
