"""Water level: warning and danger thresholds with hysteresis, and rate of rise (flash flood).

Hysteresis keeps a level hovering at a threshold from flapping the alarm (and the loudspeaker);
the rate of rise catches a flash flood while the level is still below the warning mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.alarms import AlarmSignal
from gateway.config.station import WaterRules

Band = Literal["normal", "warning", "danger"]


@dataclass(frozen=True, slots=True)
class WaterState:
    band: Band = "normal"
    history: tuple[tuple[float, float], ...] = ()
    flash: bool = False


def level_band(current: Band, level: float, rules: WaterRules) -> Band:
    """The band after one reading, stepping down only past the hysteresis margin."""
    h = rules.hysteresis_m
    if level >= rules.danger_m:
        return "danger"
    if current == "danger" and level >= rules.danger_m - h:
        return "danger"
    if level >= rules.warning_m:
        return "warning"
    if current in ("danger", "warning") and level >= rules.warning_m - h:
        return "warning"
    return "normal"


def rise_rate(history: tuple[tuple[float, float], ...], min_span_s: float) -> float | None:
    """Metres per minute between the oldest and newest reading, if they span at least `min_span_s`."""
    if len(history) < 2:
        return None
    (t0, l0), (t1, l1) = history[0], history[-1]
    if t1 - t0 < min_span_s:
        return None
    return (l1 - l0) / (t1 - t0) * 60.0


def water_step(state: WaterState, rules: WaterRules, sensor: str, level: float, now: float) -> tuple[WaterState, list[AlarmSignal]]:
    """Feed one reading; return the new state and the alarm signals it causes."""
    signals: list[AlarmSignal] = []
    band = level_band(state.band, level, rules)
    if band != state.band:
        details = {"level_m": round(level, 3), "warning_m": rules.warning_m, "danger_m": rules.danger_m}
        if band == "normal":
            signals.append(AlarmSignal("water_level", sensor, False, summary=f"water level back to normal ({level:.2f} m)", details=details))
        else:
            limit = rules.danger_m if band == "danger" else rules.warning_m
            signals.append(
                AlarmSignal(
                    "water_level", sensor, True, severity=band,
                    summary=f"water level {level:.2f} m is above the {band} mark {limit:.2f} m", details=details,
                )
            )

    flash = state.flash
    history = state.history
    if rules.rise_rate_m_per_min is not None:
        history = tuple(p for p in (*state.history, (now, level)) if now - p[0] <= rules.rise_window_s)
        rate = rise_rate(history, rules.rise_window_s / 2)
        if rate is not None:
            details = {"rise_m_per_min": round(rate, 4), "threshold_m_per_min": rules.rise_rate_m_per_min, "level_m": round(level, 3)}
            if not flash and rate >= rules.rise_rate_m_per_min:
                flash = True
                signals.append(AlarmSignal("flash_flood", sensor, True, severity="danger",
                                           summary=f"water rising fast: {rate:.3f} m/min", details=details))
            elif flash and rate < rules.rise_rate_m_per_min / 2:
                flash = False
                signals.append(AlarmSignal("flash_flood", sensor, False, summary="water no longer rising fast", details=details))
    return WaterState(band=band, history=history, flash=flash), signals
