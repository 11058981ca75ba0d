"""Pure rules with time passed in: a day of readings runs in milliseconds."""

from __future__ import annotations

import math

from gateway.config.station import WaterRules
from gateway.rules.fire import FireState, fire_step
from gateway.rules.stale import StaleState, stale_step
from gateway.rules.water import WaterState, level_band, water_step

RULES = WaterRules(warning_m=1.0, danger_m=2.0, hysteresis_m=0.1, rise_rate_m_per_min=0.5, rise_window_s=60)


def feed(levels: list[tuple[float, float]], rules: WaterRules = RULES) -> list[tuple[float, str, bool, str]]:
    state = WaterState()
    out = []
    for t, level in levels:
        state, signals = water_step(state, rules, "g1", level, t)
        out += [(t, s.kind, s.active, s.severity) for s in signals]
    return out


def test_thresholds_raise_escalate_and_clear() -> None:
    events = feed([(0, 0.5), (1, 1.05), (2, 2.05), (3, 1.5), (4, 0.5)])
    assert events == [
        (1, "water_level", True, "warning"),
        (2, "water_level", True, "danger"),
        (3, "water_level", True, "warning"),
        (4, "water_level", False, "warning"),
    ]


def test_hysteresis_stops_flapping_at_a_threshold() -> None:
    wobble = [(t, 1.0 + (0.04 if t % 2 else -0.04)) for t in range(0, 200)]
    events = feed([(-1, 0.5), *wobble])
    assert [e[1:3] for e in events if e[1] == "water_level"] == [("water_level", True)]  # raised once, never cleared by the wobble
    assert level_band("warning", 0.91, RULES) == "warning"
    assert level_band("warning", 0.89, RULES) == "normal"
    assert level_band("danger", 1.91, RULES) == "danger"


def test_flash_flood_from_rate_of_rise_below_warning() -> None:
    # 0.6 m/min rise that stays below the warning mark for the first minute
    levels = [(t, 0.2 + 0.01 * t) for t in range(0, 70)]
    events = feed(levels)
    flash = [e for e in events if e[1] == "flash_flood"]
    assert flash and flash[0][2] is True and flash[0][3] == "danger"
    assert flash[0][0] < 40  # caught once half a window of data exists, well before the warning mark at t=80
    steady = feed([(t, 0.2 + 0.01 * min(t, 70)) for t in range(0, 200)])
    assert [e[2] for e in steady if e[1] == "flash_flood"] == [True, False]


def test_slow_rise_is_not_a_flash_flood() -> None:
    day = [(t, 0.3 + 0.5 * math.sin(t / 86400 * 2 * math.pi)) for t in range(0, 86400, 10)]
    assert [e for e in feed(day) if e[1] == "flash_flood"] == []


def test_fire_input_debounce_and_minimum_clear() -> None:
    state = FireState()
    log = []
    timeline = [(0.0, True), (0.5, False), (1.0, True), (2.0, True), (3.1, True), (4.0, False), (10.0, True), (11.0, False), (40.0, False), (41.5, False)]
    for t, active in timeline:
        state, signals = fire_step(state, active, t, kind="fire", source="flame-1", debounce_s=2.0, min_clear_s=30.0)
        log += [(t, s.active) for s in signals]
    # the 0.5 s spark is ignored; raised once active for 2 s; the 10.0 flicker restarts the clear timer
    assert log == [(3.1, True), (41.5, False)]


def test_stale_sensor_raises_and_recovers() -> None:
    state = StaleState(since=0.0)
    out = []
    for t, ok in [(1, True), (5, False), (10, None), (12, None), (20, None), (21, True), (22, None)]:
        state, signals = stale_step(state, t, source="gauge-1", stale_after_s=10, ok=ok, error="timeout" if ok is False else "")
        out += [(t, s.active, s.category) for s in signals]
    assert out == [(12, True, "health"), (21, False, "health")]


def test_stale_sensor_that_never_answered() -> None:
    state, signals = stale_step(StaleState(since=100.0), 131.0, source="g", stale_after_s=30, ok=False, error="no such port")
    assert signals and signals[0].active and "no such port" in signals[0].summary
