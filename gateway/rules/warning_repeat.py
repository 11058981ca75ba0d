"""The spoken warning repeated until the water is empty: a schedule with bounds and quiet hours.

Pure: `(settings, state, present, critical, now, minute_of_day) -> (state, action)`. Playing the
warning twice and then waiting a minute whether or not anyone is still in the water does not
get a swimmer out; playing it forever makes a village switch the loudspeaker off. So: a run of
`cycles` warnings `interval_s` apart, a pause, and again, for as long as someone is in the zone,
and nothing once it is empty. During quiet hours only a critical alarm (someone lost in the
water) is played; the first warning held by them is still handed on ("held") so the loudspeaker
reports it as held for quiet hours and the county knows why nothing was heard.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Action = Literal["play", "held"]


@dataclass(frozen=True, slots=True)
class RepeatSettings:
    """Cadence of the repeated warning; quiet hours as local minutes of the day [start, end), may pass midnight."""

    interval_s: float = 15.0
    cycles: int = 4
    pause_s: float = 60.0
    quiet_start_min: int | None = None
    quiet_end_min: int | None = None

    def quiet(self, minute_of_day: int | None) -> bool:
        """Whether quiet hours hold at this minute (None: the clock is not trusted yet, so they do not)."""
        if minute_of_day is None or self.quiet_start_min is None or self.quiet_end_min is None:
            return False
        start, end = self.quiet_start_min, self.quiet_end_min
        if start <= end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


@dataclass(frozen=True, slots=True)
class RepeatState:
    """When the next warning is due, how many of the current run have played, whether quiet hours hold one."""

    next_at: float | None = None
    in_run: int = 0
    plays: int = 0
    held: bool = False


def warning_repeat_step(
    settings: RepeatSettings, state: RepeatState, present: bool, critical: bool, now: float, minute_of_day: int | None
) -> tuple[RepeatState, Action | None]:
    """Whether to play the warning now; an empty zone ends the schedule (the next person starts it afresh)."""
    if not present:
        return RepeatState(), None
    if state.next_at is not None and now < state.next_at:
        return state, None
    if not critical and settings.quiet(minute_of_day):
        if state.held:
            return state, None
        return replace(state, held=True), "held"
    in_run = state.in_run + 1
    if in_run >= settings.cycles:
        return RepeatState(now + settings.pause_s, 0, state.plays + 1), "play"
    return RepeatState(now + settings.interval_s, in_run, state.plays + 1), "play"
