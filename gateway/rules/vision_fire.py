"""Fire and smoke seen by a camera: raised after N of M analysed frames with evidence, cleared
after T seconds without; and how a camera alarm and a GPIO fire input confirm each other.

Pure: `(state, evidence, now) -> (state, signals)`, `now` monotonic. The evidence is the edge
models' own `FireSmokeEvidence`, taken as it is: perception sits below the gateway, so the rule
uses its type rather than keeping a copy. The alarm kinds are `fire` and `smoke` (the same kinds
as the GPIO inputs), with the camera id as source, category safety and the configured severity
(danger by default): a camera alone can be fooled (a sunset, a welding torch), so it warns but
does not claim certainty.

Escalation: when a GPIO fire or smoke input of the same station is also active, the condition
is confirmed by two independent sensors; `corroborate(signal, active_inputs)` returns the
signal with severity `critical` and the confirming inputs in its details. While an alarm is up
the rule restates it every `refresh_s` (silent in the alarm book when nothing changed), so the
station only has to pass every camera fire/smoke signal through it, e.g.
`book.apply(corroborate(signal, [i for i, on in fire_inputs_active.items() if on]), now)`; the
severity change becomes an `updated` (escalated) transition that may trigger the loudspeaker,
within `refresh_s` of the input tripping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from edge_models.fire_evidence import FireSmokeEvidence
from gateway.alarms import AlarmSignal, Severity

KINDS = ("fire", "smoke")


@dataclass(frozen=True, slots=True)
class FireSettings:
    """Rule parameters (from `FireSmokeConfig`) and the camera id used as the alarm source."""

    source: str
    trigger_frames: int = 6
    window_frames: int = 10
    clear_after_s: float = 60.0
    severity: Severity = "danger"
    refresh_s: float = 5.0


@dataclass(frozen=True, slots=True)
class KindState:
    window: tuple[bool, ...] = ()
    active: bool = False
    last_seen: float | None = None
    peak_area: float = 0.0
    last_sent: float | None = None


@dataclass(frozen=True, slots=True)
class FireState:
    """Separate windows for fire and for smoke."""

    fire: KindState = KindState()
    smoke: KindState = KindState()


def vision_fire_step(
    settings: FireSettings, state: FireState, obs: FireSmokeEvidence, now: float
) -> tuple[FireState, list[AlarmSignal]]:
    """Feed one analysed frame's evidence; return the new state and any raise or clear."""
    signals: list[AlarmSignal] = []
    fire, s1 = _kind_step(settings, "fire", state.fire, obs.fire, obs.fire_area, obs.fire_score, obs, now)
    smoke, s2 = _kind_step(settings, "smoke", state.smoke, obs.smoke, obs.smoke_area, obs.smoke_score, obs, now)
    signals.extend(s1)
    signals.extend(s2)
    return FireState(fire, smoke), signals


def _kind_step(
    settings: FireSettings, kind: str, st: KindState, seen: bool, area: float, score: float, obs: FireSmokeEvidence, now: float
) -> tuple[KindState, list[AlarmSignal]]:
    window = (*st.window, seen)[-settings.window_frames :]
    last_seen = now if seen else st.last_seen
    peak = max(st.peak_area, area) if (seen or st.active) else 0.0
    new = replace(st, window=window, last_seen=last_seen, peak_area=peak)
    if not st.active:
        if sum(window) >= settings.trigger_frames:
            new = replace(new, active=True, last_sent=now)
            return new, [_raised(settings, kind, new, area, score, obs)]
        return new, []
    quiet = now - (last_seen if last_seen is not None else now)
    if not seen and quiet >= settings.clear_after_s:
        return KindState(window=window), [
            AlarmSignal(
                kind, settings.source, False, severity=settings.severity, category="safety",
                summary=f"no {kind} seen for {quiet:.0f} s", details={"peak_area": round(peak, 4)},
            )
        ]
    if st.last_sent is None or now - st.last_sent >= settings.refresh_s:
        # A periodic restatement: silent in the alarm book unless `corroborate` changed it.
        new = replace(new, last_sent=now)
        return new, [_raised(settings, kind, new, area, score, obs)]
    return new, []


def _raised(settings: FireSettings, kind: str, st: KindState, area: float, score: float, obs: FireSmokeEvidence) -> AlarmSignal:
    details: dict[str, object] = {
        "area": round(area, 4), "peak_area": round(st.peak_area, 4), "score": round(score, 3),
        "frames": f"{sum(st.window)}/{len(st.window)}", "evidence": obs.source,
    }
    if kind == "fire":
        details.update(flicker=round(obs.flicker, 1), growth=round(obs.growth, 2))
    return AlarmSignal(
        kind, settings.source, True, severity=settings.severity, category="safety",
        summary=f"{kind} seen by camera {settings.source}", details=details,
    )


def corroborate(signal: AlarmSignal, active_inputs: Sequence[str]) -> AlarmSignal:
    """A camera fire/smoke signal escalated to `critical` when GPIO inputs confirm it.

    Pure and idempotent: a clear, another kind, or no active input returns the signal unchanged.
    `confirmed_by` joins `updates_on`, so a new confirming input gives an update.
    """
    if not signal.active or signal.kind not in KINDS or not active_inputs:
        return signal
    return replace(
        signal,
        severity="critical",
        summary=f"{signal.summary}; confirmed by {', '.join(active_inputs)}",
        details={**signal.details, "confirmed_by": sorted(active_inputs)},
        updates_on=tuple(dict.fromkeys((*signal.updates_on, "confirmed_by"))),
    )
