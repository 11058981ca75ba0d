"""Stale sensors: no good reading for N seconds raises a health alarm; the next good one clears it."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.alarms import AlarmSignal


@dataclass(frozen=True, slots=True)
class StaleState:
    since: float
    last_ok: float | None = None
    stale: bool = False
    last_error: str = ""


def stale_step(
    state: StaleState, now: float, *, source: str, stale_after_s: float, ok: bool | None, error: str = ""
) -> tuple[StaleState, list[AlarmSignal]]:
    """`ok`: True after a good reading, False after a failed one, None for a plain time check."""
    last_ok, last_error = state.last_ok, state.last_error
    if ok:
        last_ok = now
    elif ok is False:
        last_error = error or last_error
    if ok and state.stale:
        return StaleState(state.since, last_ok, False, ""), [
            AlarmSignal("sensor_stale", source, False, category="health", summary=f"{source} is answering again")
        ]
    reference = last_ok if last_ok is not None else state.since
    if not state.stale and now - reference >= stale_after_s:
        quiet = now - reference
        return StaleState(state.since, last_ok, True, last_error), [
            AlarmSignal(
                "sensor_stale", source, True, severity="warning", category="health",
                summary=f"no reading from {source} for {quiet:.0f} s" + (f": {last_error}" if last_error else ""),
                details={"silent_s": round(quiet, 1), "last_error": last_error},
            )
        ]
    return StaleState(state.since, last_ok, state.stale, last_error), []
