"""A person in a danger zone (water, ice, a weir): raised after N of M analysed frames, cleared
after the zone has been empty for T seconds. The severity rises with the longest dwell (e.g. a
warning on entry, danger after a minute in the water); an `updated` goes out only when the count
of people or the severity changes, never on a timer and never for a track id that merely changed
(identities of far swimmers break often), and each escalation asks for a fresh snapshot, a
bounded number of them per alarm.

Pure: `(state, observation, now) -> (state, signals)`, with `now` a monotonic time for the
timers and the observation's `wall` time for the armed schedule, so the wall clock jumping at
NTP sync cannot hold an alarm open or clear it early. N of M rides over single missed or false
detections; the empty-for-T clear rides over a swimmer briefly hidden by a wave or a splash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from gateway.alarms import SEVERITY_RANK, AlarmSignal, Severity

KIND = "person_in_water_zone"


# A wall clock before 2024 has not been set yet (a Pi without RTC before NTP answers): the
# schedule cannot be judged, so the zone stays armed — a false alarm beats a missed drowning.
CLOCK_SET_AFTER = 1704067200.0


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def is_armed(hours: Sequence[str], months: Sequence[int], wall: float, tz: tzinfo | None) -> bool:
    """True when `wall` (a Unix time) falls in one of the months and one of the daily windows.

    Windows are `HH:MM-HH:MM` in local time (of `tz`, or the system's when None); a window whose
    end is before its start passes midnight, and `00:00-24:00` is the whole day.
    """
    local = datetime.fromtimestamp(wall, tz) if tz is not None else datetime.fromtimestamp(wall).astimezone()
    if local.month not in months:
        return False
    minute = local.hour * 60 + local.minute
    for window in hours:
        start_s, end_s = window.split("-")
        start, end = _minutes(start_s), _minutes(end_s)
        if start <= end:
            if start <= minute < end:
                return True
        elif minute >= start or minute < end:
            return True
    return False


@dataclass(frozen=True, slots=True)
class ZoneSettings:
    """One zone's rule parameters (from `ZoneConfig`) and the alarm's source `{camera}/{zone}`."""

    source: str
    trigger_frames: int = 3
    window_frames: int = 5
    clear_after_s: float = 10.0
    severity: Severity = "danger"
    min_update_s: float = 2.0
    count_settle_s: float = 0.0  # a changed count is told once it has held this long (people crossing the edge, flicker)
    hours: tuple[str, ...] = ("00:00-24:00",)
    months: tuple[int, ...] = tuple(range(1, 13))
    tz: tzinfo | None = None
    name: str = ""
    escalate: tuple[tuple[float, Severity], ...] = ()  # (dwell seconds, severity) steps above `severity`
    max_snapshots: int = 3


@dataclass(frozen=True, slots=True)
class ZoneObservation:
    """Who the pipeline counted in the zone on one analysed frame, and the wall time it was taken."""

    track_ids: tuple[int, ...]
    wall: float
    scores: tuple[float, ...] = ()
    entered: tuple[tuple[int, float], ...] = ()  # entry times known better elsewhere (a person found again under a new id)


@dataclass(frozen=True, slots=True)
class ZoneState:
    """Recent occupancy, whether the alarm is up, and (track id, entered, last seen) of recent tracks."""

    window: tuple[bool, ...] = ()
    active: bool = False
    last_occupied: float | None = None
    entered: tuple[tuple[int, float, float], ...] = ()
    last_sent: float | None = None
    sent_ids: tuple[int, ...] = ()
    max_dwell: float = 0.0
    severity: Severity | None = None
    snapshots: int = 0
    count: int = 0  # the count on the last analysed frame, and since when it has held
    count_since: float | None = None


def person_zone_step(
    settings: ZoneSettings, state: ZoneState, obs: ZoneObservation, now: float
) -> tuple[ZoneState, list[AlarmSignal]]:
    """Feed one analysed frame; return the new state and any raise, update or clear."""
    if obs.wall >= CLOCK_SET_AFTER and not is_armed(settings.hours, settings.months, obs.wall, settings.tz):
        if state.active:
            return ZoneState(), [_clear(settings, state, now, "zone disarmed by its schedule")]
        return ZoneState(), []
    ids = tuple(sorted(set(obs.track_ids)))
    occupied = bool(ids)
    window = (*state.window, occupied)[-settings.window_frames :]
    # A track missing for less than clear_after_s has not left: its entry time is kept.
    seen = {i: (t, last) for i, t, last in state.entered if now - last < settings.clear_after_s}
    seen.update({i: (seen.get(i, (now, now))[0], now) for i in ids})
    seen.update({i: (t, seen[i][1]) for i, t in obs.entered if i in seen})
    entered = tuple((i, t, last) for i, (t, last) in sorted(seen.items()))
    last_occupied = now if occupied else state.last_occupied
    dwell = max((now - t for i, t, _ in entered if i in ids), default=0.0)
    peak = max(state.max_dwell, dwell) if (occupied or state.active) else 0.0
    st = replace(state, window=window, last_occupied=last_occupied, entered=entered, max_dwell=peak)
    if len(ids) != state.count or state.count_since is None:
        st = replace(st, count=len(ids), count_since=now)
    settled = st.count_since is not None and now - st.count_since >= settings.count_settle_s
    where = settings.name or settings.source
    if not st.active:
        if sum(window) >= settings.trigger_frames:
            st = replace(st, active=True, last_sent=now, sent_ids=ids, severity=_severity(settings, None, dwell), snapshots=1)
            return st, [_signal(settings, st, now, f"{len(ids)} person(s) in {where}", fresh=True)]
        return st, []
    if not occupied:
        empty_for = now - (last_occupied if last_occupied is not None else now)
        if empty_for >= settings.clear_after_s:
            return ZoneState(window=window), [_clear(settings, st, now, f"zone empty for {empty_for:.0f} s")]
        return st, []
    severity = _severity(settings, st.severity, dwell)
    if severity != st.severity:
        fresh = st.snapshots < settings.max_snapshots
        st = replace(st, last_sent=now, sent_ids=ids, severity=severity, snapshots=st.snapshots + (1 if fresh else 0))
        return st, [_signal(settings, st, now, f"{len(ids)} person(s) in {where}, one for {dwell:.0f} s", fresh=fresh)]
    if len(ids) != len(st.sent_ids) and settled and (st.last_sent is None or now - st.last_sent >= settings.min_update_s):
        st = replace(st, last_sent=now, sent_ids=ids)
        return st, [_signal(settings, st, now, f"{len(ids)} person(s) in {where}")]
    if len(ids) == len(st.sent_ids) and ids != st.sent_ids:
        st = replace(st, sent_ids=ids)  # same people under new track ids: nothing to tell anyone
    return st, []


def _severity(settings: ZoneSettings, current: Severity | None, dwell: float) -> Severity:
    """The entry severity, raised by each dwell step reached; never lowered while the alarm is up."""
    out = settings.severity if current is None else current
    for after_s, severity in settings.escalate:
        if dwell >= after_s and SEVERITY_RANK[severity] > SEVERITY_RANK[out]:
            out = severity
    return out


def _dwell(state: ZoneState, now: float) -> float:
    present = set(state.sent_ids)
    return round(max((now - t for i, t, _ in state.entered if i in present), default=0.0), 1)


def _signal(settings: ZoneSettings, state: ZoneState, now: float, summary: str, fresh: bool = False) -> AlarmSignal:
    ids = list(state.sent_ids)
    return AlarmSignal(
        KIND,
        settings.source,
        True,
        severity=state.severity or settings.severity,
        summary=summary,
        details={"count": len(ids), "track_ids": ids, "dwell_s": _dwell(state, now), "max_dwell_s": round(state.max_dwell, 1),
                 "zone": settings.name or settings.source},
        updates_on=("count", "track_ids"),
        fresh_evidence=fresh,
    )


def _clear(settings: ZoneSettings, state: ZoneState, now: float, why: str) -> AlarmSignal:
    return AlarmSignal(
        KIND, settings.source, False, severity=state.severity or settings.severity, summary=why,
        details={"count": 0, "track_ids": [], "max_dwell_s": round(state.max_dwell, 1), "zone": settings.name or settings.source},
    )
