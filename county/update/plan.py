"""The canary plan: who gets the update first, who next, when to stop. Pure; time is passed in.

A few stations (the canary) go first, preferring ones not already on the new version so the
canary really installs something; only when every one of them has replied `updated` do the
others follow, at most `parallel` at a time. Any canary station that rolls back, fails, refuses
or does not answer within `canary_wait_s` stops the rollout: the others are never touched. In
the second wave, `max_failures` failures stop new sends (those already under way finish).
Offline stations are never sent to (a station takes commands only while connected): they are
listed as skipped so that nobody believes they were updated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ACTIVE = frozenset({"sent", "downloading", "restarting"})
FAILED = frozenset({"rolled_back", "refused", "failed", "timeout"})
UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class Target:
    """A station under the prefix as the county knows it (online None: presence never seen)."""

    station: str
    online: bool | None
    version: str


@dataclass(frozen=True, slots=True)
class Plan:
    canary: tuple[str, ...]
    rest: tuple[str, ...]
    skipped: tuple[Target, ...]

    @property
    def order(self) -> tuple[str, ...]:
        return self.canary + self.rest


@dataclass(frozen=True, slots=True)
class Limits:
    canary_wait_s: float = 900.0  # from send to `updated`, for a canary station
    timeout_s: float = 900.0  # the same for every other station
    parallel: int = 4
    max_failures: int = 1  # failures in the second wave that stop new sends


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one station's update is, as far as the plan cares."""

    state: str  # waiting, then sent/downloading/restarting, then updated or a FAILED state
    sent_at: float | None = None


@dataclass(frozen=True, slots=True)
class Step:
    start: tuple[str, ...] = ()  # send to these now
    timed_out: tuple[str, ...] = ()  # no final reply in time: count them as failed
    halted_by: str | None = None  # the station whose failure stopped the rollout
    canary_failed: bool = False
    done: bool = False  # nothing is under way and nothing more will be sent


def make_plan(targets: Sequence[Target], canary: int, to_version: str) -> Plan:
    """Online stations, the canary first (not yet on `to_version` preferred, then by name); the rest by name."""
    online = sorted((t for t in targets if t.online), key=lambda t: (t.version == to_version, t.station))
    first = tuple(t.station for t in online[: max(0, canary)])
    rest = tuple(sorted(t.station for t in online[max(0, canary):]))
    skipped = tuple(sorted((t for t in targets if not t.online), key=lambda t: t.station))
    return Plan(first, rest, skipped)


def next_step(plan: Plan, progress: Mapping[str, Progress], now: float, limits: Limits) -> Step:
    """What to do at `now`, given each station's progress (a station missing from `progress` is waiting)."""
    state = {s: progress.get(s, Progress("waiting")) for s in plan.order}
    in_canary = set(plan.canary)
    timed_out = tuple(s for s, p in state.items() if p.state in ACTIVE and p.sent_at is not None
                      and now - p.sent_at >= (limits.canary_wait_s if s in in_canary else limits.timeout_s))
    current = {s: ("timeout" if s in timed_out else p.state) for s, p in state.items()}
    active = [s for s in plan.order if current[s] in ACTIVE]
    failed_canary = [s for s in plan.canary if current[s] in FAILED]
    if failed_canary:
        return Step(timed_out=timed_out, halted_by=failed_canary[0], canary_failed=True, done=not active)
    if any(current[s] != UPDATED for s in plan.canary):
        waiting = tuple(s for s in plan.canary if current[s] == "waiting")
        return Step(start=waiting, timed_out=timed_out)
    failed_rest = [s for s in plan.rest if current[s] in FAILED]
    if len(failed_rest) >= max(1, limits.max_failures):
        return Step(timed_out=timed_out, halted_by=failed_rest[0], done=not active)
    waiting = [s for s in plan.rest if current[s] == "waiting"]
    room = max(0, max(1, limits.parallel) - len(active))
    start = tuple(waiting[:room])
    return Step(start=start, timed_out=timed_out, done=not active and not waiting)
