"""Sending the update: one signed command per station through `county.send`, as the plan says.

Each station's command runs in a worker thread of its own (`county.send.send_and_wait`: reply topic
subscribed before the command is published, interim `downloading` and `restarting` handed on),
at most `Limits.parallel` at a time (the plan's rule); the main loop asks `plan.next_step` what to do next and
marks stations that stay silent too long. A station's end state is final once reached: a late
reply cannot undo a decision already taken. Every command is audited when sent and when it ends,
and every station not sent to (offline, or left after a stop) is audited as `not_sent`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from county.accounts import Accounts
from county.send import BrokerOptions, SendError, build_command, send_and_wait
from county.update.plan import FAILED, UPDATED, Limits, Plan, Progress, Step, next_step

ENDED = FAILED | {UPDATED}


@dataclass(frozen=True, slots=True)
class StationRun:
    """One station's update as shown and reported."""

    station: str
    phase: str  # canary, rest, skipped
    from_version: str
    to_version: str
    state: str = "waiting"
    sent_at: float | None = None
    done_bytes: int = 0
    size: int = 0
    reason: str = ""
    command_id: str = ""

    @property
    def percent(self) -> int | None:
        return min(100, self.done_bytes * 100 // self.size) if self.size > 0 else None


def after_reply(run: StationRun, reply: dict[str, Any]) -> StationRun:
    """The station's update after one of its replies (pure). An end state, once reached, stays."""
    if run.state in ENDED:
        return run
    outcome = str(reply.get("outcome", ""))
    result = reply.get("result") if isinstance(reply.get("result"), dict) else {}
    reason = str(reply.get("reason") or result.get("reason") or "")[:300]
    if outcome == "downloading":
        return replace(run, state="downloading", done_bytes=_int(result.get("bytes"), run.done_bytes), size=_int(result.get("size"), run.size))
    if outcome == "restarting":
        return replace(run, state="restarting", from_version=str(result.get("from") or run.from_version))
    if outcome == UPDATED and reply.get("ok"):
        version = str(result.get("version") or "")
        if version and version != run.to_version:
            return replace(run, state="failed", reason=f"reports version {version[:64]}, not {run.to_version}")
        return replace(run, state=UPDATED, from_version=str(result.get("previous") or run.from_version), reason="")
    if outcome == "unchanged" and reply.get("ok"):  # a model update to the model in use: config/set's answer, nothing to switch
        return replace(run, state=UPDATED, reason="")
    if outcome == "rolled_back":
        return replace(run, state="rolled_back", reason=reason or "rolled back")
    if outcome == "refused":
        return replace(run, state="refused", reason=reason or "refused")
    return replace(run, state="failed", reason=reason or f"unexpected reply {outcome[:40]!r}")


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


class Audit:
    """The county's audit log for one rollout (the same table the web desk writes), one writer at a time."""

    def __init__(self, accounts: Accounts, operator: str, batch: str) -> None:
        self.accounts, self.operator, self.batch = accounts, operator, batch
        self._lock = threading.Lock()

    def log(self, run: StationRun, outcome: str, now: float, detail: dict[str, Any]) -> None:
        with self._lock:
            self.accounts.log(self.operator, "update", run.station, now,
                              {"batch": self.batch, "phase": run.phase, "to": run.to_version, **detail}, run.command_id or None, outcome)


class Rollout:
    """Runs a plan to its end; `on_change(run)` is called (from any thread) whenever a station's update moves."""

    def __init__(self, opts: BrokerOptions, key: Ed25519PrivateKey, args: dict[str, Any], plan: Plan, limits: Limits,
                 runs: dict[str, StationRun], audit: Audit | None, on_change: Callable[[StationRun], None],
                 ttl_s: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.opts, self.key, self.args, self.plan, self.limits = opts, key, args, plan, limits
        self.runs, self.audit, self.on_change, self.ttl_s, self.clock = runs, audit, on_change, ttl_s, clock
        self.batch = audit.batch if audit else uuid.uuid4().hex
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def run(self) -> Step:
        """Send, wait and decide until the plan is done; the last step says whether (and by whom) it was halted."""
        for s in self.plan.skipped:
            self._audit(self.runs[s.station], "not_sent", {"why": "offline" if s.online is False else "presence unknown"})
        workers: list[threading.Thread] = []
        while True:
            now = self.clock()
            with self._lock:
                progress = {s: Progress(r.state, r.sent_at) for s, r in self.runs.items()}
            step = next_step(self.plan, progress, now, self.limits)
            for station in step.timed_out:
                limit = self.limits.canary_wait_s if station in self.plan.canary else self.limits.timeout_s
                self._end(station, lambda r, lim=limit: replace(r, state="timeout", reason=f"no final reply within {lim:g} s"))
            if step.done:
                break
            workers += [self._launch(station) for station in step.start]
            self._wake.wait(0.2)
            self._wake.clear()
        for worker in workers:
            worker.join(timeout=5)  # a silent station's worker stops listening a second after its timeout
        for station in self.plan.order:
            if self.runs[station].state == "waiting":
                self._set(station, lambda r: replace(r, state="not_sent", reason="stopped before its turn"))
                self._audit(self.runs[station], "not_sent", {"why": "stopped before its turn"})
        return step

    def _launch(self, station: str) -> threading.Thread:
        """Sign and send in a worker of its own (the plan bounds how many run; daemon: Ctrl-C is never held up by a silent station)."""
        now = self.clock()
        doc = build_command(self.key, station, "update", self.args, now, self.ttl_s)
        run, _ = self._set(station, lambda r: replace(r, state="sent", sent_at=now, command_id=doc["id"]))
        self._audit(run, "sent", {"args": self.args})
        limit = self.limits.canary_wait_s if station in self.plan.canary else self.limits.timeout_s
        # the plan marks the timeout first; the worker just stops listening a second later
        worker = threading.Thread(target=self._one, args=(station, doc, limit + 1.0), name=f"update {station}", daemon=True)
        worker.start()
        return worker

    def _one(self, station: str, doc: dict[str, Any], timeout_s: float) -> None:
        try:
            send_and_wait(self.opts, doc, timeout_s, on_reply=lambda reply: self._end(station, lambda r: after_reply(r, reply)))
        except (SendError, OSError) as exc:
            why = str(exc)[:300]
            self._end(station, lambda r: replace(r, state="failed", reason=why))
        except Exception as exc:  # noqa: BLE001 - one station's surprise must not stop the rollout's bookkeeping
            why = f"{type(exc).__name__}: {exc}"[:300]
            self._end(station, lambda r: replace(r, state="failed", reason=why))
        finally:
            self._wake.set()

    def _set(self, station: str, change: Callable[[StationRun], StationRun], keep_ended: bool = False) -> tuple[StationRun, bool]:
        """Apply `change` under the lock; (the run now, whether it has just ended). `keep_ended`: an ended run stays as it is."""
        with self._lock:
            before = self.runs[station]
            if keep_ended and before.state in ENDED:
                return before, False
            after = self.runs[station] = change(before)
        if after != before:
            self.on_change(after)
        return after, after.state in ENDED and before.state not in ENDED

    def _end(self, station: str, change: Callable[[StationRun], StationRun]) -> None:
        run, ended = self._set(station, change, keep_ended=True)
        if ended:
            self._audit(run, run.state, {"reason": run.reason} if run.reason else {})
            self._wake.set()

    def _audit(self, run: StationRun, outcome: str, detail: dict[str, Any]) -> None:
        if self.audit is not None:
            self.audit.log(run, outcome, self.clock(), detail)

