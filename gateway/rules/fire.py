"""Fire and smoke inputs: debounced on the way up, held for a minimum time on the way down.

A flame sensor flickers and a smoke contact may chatter; the debounce keeps a single spark from
sounding the alarm, and the minimum clear time keeps a smouldering fire from clearing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.alarms import AlarmSignal


@dataclass(frozen=True, slots=True)
class FireState:
    alarmed: bool = False
    changing_since: float | None = None


def fire_step(
    state: FireState, active: bool, now: float, *, kind: str, source: str, debounce_s: float, min_clear_s: float
) -> tuple[FireState, list[AlarmSignal]]:
    """Feed one read of the input; return the new state and any raise or clear."""
    if active == state.alarmed:
        return FireState(state.alarmed, None), []
    since = state.changing_since if state.changing_since is not None else now
    hold = debounce_s if active else min_clear_s
    if now - since < hold:
        return FireState(state.alarmed, since), []
    if active:
        signal = AlarmSignal(kind, source, True, severity="critical", summary=f"{kind} detected by {source}",
                             details={"input": source, "active_for_s": round(now - since, 1)})
    else:
        signal = AlarmSignal(kind, source, False, summary=f"{source} quiet for {now - since:.0f} s",
                             details={"input": source})
    return FireState(active, None), [signal]
