"""The warnings of a zone repeated until its water is empty, and the warning light switched with them.

Runs on the brain thread, inside the decision step: each transition of an alarm whose zone has
`warning_repeat` (and a loudspeaker action for its kind and severity) starts, feeds or ends a
`gateway.rules.warning_repeat` schedule, and the brain's once-a-second tick moves it on. Each
warning is one announcement (so each play is reported on `event/loudspeaker` and the county
sees it was heard); it expires at the next due time, so a loudspeaker busy with something more
urgent never builds a backlog. A critical alarm (someone lost in the water) plays as an
emergency, through quiet hours and ahead of everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.base import Utterance
from gateway.alarms import SEVERITY_RANK, OpenAlarm, Transition
from gateway.announcer import Announcement, QuietWindow, WarningLight
from gateway.config.station import SpeakerAction, StationConfig
from gateway.rules.warning_repeat import RepeatSettings, RepeatState, warning_repeat_step


@dataclass
class _Running:
    alarm: OpenAlarm
    settings: RepeatSettings
    state: RepeatState = field(default_factory=RepeatState)
    light: bool = False


def repeat_settings_of(cfg: StationConfig) -> dict[str, RepeatSettings]:
    """The repeat schedule of each zone that has one, by alarm source `{camera}/{zone}`."""
    quiet = cfg.loudspeaker.quiet_hours if cfg.loudspeaker is not None else None
    window = QuietWindow.parse(quiet.start, quiet.end) if quiet is not None else None
    out = {}
    for cam in cfg.cameras:
        for z in cam.zones:
            r = z.warning_repeat
            if r is not None:
                out[f"{cam.id}/{z.id}"] = RepeatSettings(
                    r.interval_s, r.cycles, r.pause_s,
                    window.start_min if window else None, window.end_min if window else None,
                )
    return out


class ZoneWarnings:
    """Repeat schedules of the open zone alarms, keyed by event_id."""

    def __init__(self, cfg: StationConfig, announce: Callable[[Announcement | WarningLight], None],
                 minute_of_day: Callable[[], int | None]) -> None:
        """`minute_of_day`: local minute for quiet hours, None while the wall clock is not trusted."""
        self._settings = repeat_settings_of(cfg)
        self._actions: list[SpeakerAction] = list(cfg.loudspeaker.actions) if cfg.loudspeaker is not None else []
        self._announce = announce
        self._minute = minute_of_day
        self._running: dict[str, _Running] = {}

    def handles(self, alarm: OpenAlarm) -> bool:
        """Whether this alarm's warnings are repeated here (not played once on escalation)."""
        return alarm.source in self._settings and any(a.alarm == alarm.kind for a in self._actions)

    def on_transition(self, tr: Transition, now: float) -> None:
        a = tr.alarm
        if not self.handles(a):
            return
        if tr.state == "cleared":
            running = self._running.pop(a.event_id, None)
            if running is not None and running.light:
                self._announce(WarningLight(a.event_id, False))
            return
        running = self._running.get(a.event_id)
        if running is None:
            running = self._running[a.event_id] = _Running(a, self._settings[a.source])
        running.alarm = a
        self._step(running, now)

    def tick(self, now: float) -> None:
        for running in list(self._running.values()):
            self._step(running, now)

    def _matching(self, alarm: OpenAlarm) -> list[SpeakerAction]:
        return [x for x in self._actions if x.alarm == alarm.kind and SEVERITY_RANK[alarm.severity] >= SEVERITY_RANK[x.min_severity]]

    def _step(self, r: _Running, now: float) -> None:
        alarm = r.alarm
        actions = self._matching(alarm)
        present = bool(actions) and (alarm.details.get("lost", 0) > 0 or alarm.details.get("count", 1) > 0)
        critical = alarm.severity == "critical"
        r.state, action = warning_repeat_step(r.settings, r.state, present, critical, now, self._minute())
        if present != r.light:
            r.light = present
            self._announce(WarningLight(alarm.event_id, present))
        if action is None:
            return
        for x in actions:
            utterance = Utterance(text=x.text) if x.text is not None else Utterance(clip=x.clip)
            self._announce(Announcement(
                key=alarm.kind, utterance=utterance, priority="emergency" if critical else x.priority, repeat=1,
                expires_at=now + r.settings.interval_s, cooldown_s=0.0, ref=alarm.event_id,
            ))
