"""County commands: verify (signature, station, freshness, replay), then run, then reply.

The desk runs on the station's brain thread (the uplink hands every `cmd/#` message to the
brain's inbox), so it touches the alarm book and the loudspeaker queue without locks. Each
command ends in a `Reply` on `reply/{command_id}`, stored in the outbox as an alarm-class
message (never dropped, sent ahead of telemetry):

- rejected commands (unsigned, bad signature, unknown key, wrong station, expired, replayed,
  bad arguments, malformed) get `ok: false, outcome: rejected`, the code in `result.code`, and a
  `command_rejected` notice; nothing of them runs. Replies and notices for rejections are rate
  limited (`rejections_per_minute`), the excess counted in the next notice;
- `announce` is answered when the loudspeaker is done with it: completed, pre-empted, expired,
  quiet_hours, silenced or failed;
- `config/set` answers `restarting` at once (an interim outcome, see `INTERIM_OUTCOMES`) and
  `applied` or `rolled_back` from the gateway process that runs after the restart
  (`gateway.commands.config_trial`);
- the others answer at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drivers.base import Utterance
from foundation.clock import WallClock
from foundation.redact import MASK, redact_doc, restore_masked
from gateway import __version__
from gateway.announcer import Announcement, PlayReport
from gateway.commands import config_trial
from gateway.commands.port import DeskPort
from gateway.commands.rate_limit import TokenBucket
from gateway.commands.replay_guard import ReplayGuard
from gateway.commands.verify import Policy, Rejected, SignedCommand, TimeView, topic_name, verify
from gateway.config.station import CommandsConfig, StationConfig
from gateway.update.updater import Updates
from gateway.uplink.outbox import ALARM
from wire.command_args import AckArgs, AnnounceArgs, Args, ConfigSetArgs, FalseAlarmArgs, SilenceArgs, UpdateArgs, parse_args
from wire.messages import Reply
from wire.signing import key_id

log = logging.getLogger(__name__)

EXIT_DELAY_S = 3.0  # after config/set: give the interim reply this long to leave before restarting


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


@dataclass(frozen=True, slots=True)
class Decision:
    """What the desk did with one payload (returned for tests and logs)."""

    command_id: str
    name: str
    accepted: bool
    code: str = ""
    reason: str = ""


def replay_store_path(outbox_path: Path) -> Path:
    """The replay store lives beside the outbox (same durable folder): `<outbox stem>-commands.db`."""
    return outbox_path.with_name(f"{outbox_path.stem}-commands.db")


@dataclass
class _Pending:
    """Work the desk finishes later: announces waiting for the loudspeaker, a restart to request."""

    announces: dict[str, str] = field(default_factory=dict)  # command id -> name
    exit_at: float | None = None


class CommandDesk:
    """Verifies county commands and runs them on the station (through its `DeskPort`); one per station."""

    def __init__(
        self,
        cfg: CommandsConfig,
        station: DeskPort,
        guard: ReplayGuard,
        clock: Callable[[], float],
        wall: WallClock,
        config_path: Path | None = None,
        boot: config_trial.BootClock | None = None,
    ) -> None:
        self.cfg = cfg
        self.station = station
        keys = {}
        self.key_names: dict[str, str] = {}
        self.key_problems: list[str] = []  # a key file gone since the config was validated: reported, never fatal
        for k in cfg.keys:
            try:
                public = k.load()
            except ValueError as exc:
                self.key_problems.append(f"{k.name}: {exc}")
                continue
            keys[key_id(public)] = public
            self.key_names[key_id(public)] = k.name
        self.policy = Policy(station.cfg.station.path, keys, cfg.max_clock_skew_s, cfg.max_lifetime_s)
        self.guard = guard
        self._clock = clock
        self._wall = wall
        self.config_path = config_path
        self._boot = boot or config_trial.BootClock()
        self._bucket = TokenBucket(capacity=cfg.rejections_per_minute, per_s=cfg.rejections_per_minute / 60.0)
        self._suppressed = 0
        self._pending = _Pending()
        self._trial = config_trial.load_trial(config_path) if config_path is not None else None
        self._started = False
        self.updates = Updates(station, self.reply, lambda cmd, patch, deadline_s: self._config_set(cmd, ConfigSetArgs(patch=patch), deadline_s),
                               config_path)

    @classmethod
    def build(cls, station: DeskPort, clock: Callable[[], float], wall: WallClock, config_path: Path | None = None) -> "CommandDesk":
        cfg = station.cfg
        guard = ReplayGuard(replay_store_path(Path(cfg.outbox.path)), now=wall.now(), synced=wall.synced())
        return cls(cfg.commands, station, guard, clock, wall, config_path)

    # ------------------------------------------------------------------ what the station's brain calls

    def handle(self, topic: str, payload: bytes) -> Decision:
        """Verify one payload from `cmd/#`; run it if it checks out; always reply."""
        now, synced = self._wall.now(), self._wall.synced()
        view = TimeView(now=now, synced=synced, floor=self.guard.floor, reset_at=self.guard.reset_at)
        verdict = verify(topic_name(topic, self.station.topics.prefix), payload, self.policy, view)
        if isinstance(verdict, Rejected):
            return self._reject(verdict, topic, len(payload))
        cmd = verdict.command
        try:
            fresh = self.guard.claim(cmd.id, cmd.expires_at, forget_before=self.guard.floor - self.policy.max_skew_s, now=now)
        except Exception as exc:  # noqa: BLE001 - without a durable record a command must not run
            return self._reject(Rejected("unavailable", f"cannot record the command id: {exc}", cmd.id, cmd.name), topic, len(payload))
        if not fresh:
            return self._reject(Rejected("replayed", f"command {cmd.id} was already received", cmd.id, cmd.name), topic, len(payload))
        self.guard.advance(float(cmd.issued_at))
        try:
            args = parse_args(cmd.name, cmd.args)
            if isinstance(args, AnnounceArgs) and args.text is not None and len(args.text) > self.cfg.text_max_chars:
                raise ValueError(f"text: {len(args.text)} characters, more than the {self.cfg.text_max_chars} allowed")
        except ValueError as exc:
            return self._reject(Rejected("bad_arguments", str(exc), cmd.id, cmd.name), topic, len(payload))
        log.info("command %s %s accepted (key %s)", cmd.name, cmd.id, self.key_names.get(cmd.key_id, cmd.key_id))
        try:
            self._run(cmd, args)
        except Exception as exc:  # noqa: BLE001 - a command that fails is answered, never allowed to stop the brain
            log.exception("command %s %s failed", cmd.name, cmd.id)
            self.reply(cmd.id, cmd.name, False, "failed", f"{type(exc).__name__}: {exc}"[:300])
        return Decision(cmd.id, cmd.name, True)

    def _reject(self, r: Rejected, topic: str, size: int) -> Decision:
        if not self._bucket.take(self._clock()):
            self._suppressed += 1
            log.debug("command rejected (%s), reply suppressed by the rate limit", r.code)
            return Decision(r.reply_id, r.name, False, r.code, r.reason)
        suppressed, self._suppressed = self._suppressed, 0
        self.reply(r.reply_id, r.name, False, "rejected", r.reason, {"code": r.code})
        details: dict[str, Any] = {"command_id": r.reply_id, "code": r.code, "topic": topic[:300], "bytes": size}
        if suppressed:
            details["suppressed_since_last"] = suppressed
        self.station.notice("command_rejected", f"command {r.name!r} rejected ({r.code}): {r.reason}", source=r.name, details=details)
        return Decision(r.reply_id, r.name, False, r.code, r.reason)

    def reply(self, command_id: str, name: str, ok: bool, outcome: str, reason: str = "", result: dict[str, Any] | None = None) -> None:
        """Queue the reply to a command (alarm class: never dropped, ahead of telemetry)."""
        self.station.publish(
            self.station.topics.reply(command_id), ALARM,
            lambda env: Reply(**env, command_id=command_id, command=name, ok=ok, outcome=outcome, reason=reason, result=result or {}),
        )

    # ------------------------------------------------------------------ the commands

    def _run(self, cmd: SignedCommand, args: Args) -> None:
        if isinstance(args, AnnounceArgs):
            self._announce(cmd, args)
        elif isinstance(args, SilenceArgs):
            self._silence(cmd, args)
        elif isinstance(args, AckArgs):
            self._ack(cmd, args)
        elif isinstance(args, ConfigSetArgs):
            self._config_set(cmd, args)
        elif isinstance(args, UpdateArgs):  # software and model updates: gateway.update
            self.updates.handle(cmd, args)
        elif isinstance(args, FalseAlarmArgs):  # the county judged a camera's fire/smoke alarm false: ignore that spot a while
            try:
                self.reply(cmd.id, cmd.name, True, "suppressed", result=self.station.suppress_false_alarm(args.event_id, args.hours))
            except ValueError as exc:
                self.reply(cmd.id, cmd.name, False, "failed", str(exc)[:300])
        elif cmd.name == "status":
            self.reply(cmd.id, cmd.name, True, "done", result=self._status())
        elif cmd.name == "selftest":
            checks = self._selftest()
            passed = all(c["ok"] for c in checks.values())
            failed = [name for name, c in checks.items() if not c["ok"]]
            self.reply(cmd.id, cmd.name, passed, "passed" if passed else "failed",
                       "" if passed else f"failed: {', '.join(failed)}", {"checks": checks})
        elif cmd.name == "config/get":
            self.reply(cmd.id, cmd.name, True, "done", result={
                # camera logins masked: replies are archived by the county; config/set puts them back
                "config": redact_doc(self.station.cfg.model_dump(mode="json")), "config_hash": self.station.cfg.fingerprint(),
                "file": str(self.config_path) if self.config_path else None,
            })

    def _announce(self, cmd: SignedCommand, args: AnnounceArgs) -> None:
        if self.station.announcer is None:
            self.reply(cmd.id, cmd.name, False, "failed", "this station has no loudspeaker")
            return
        window = args.expires_s
        if self._wall.synced():  # never play past the command's own expiry
            window = min(window, max(0.0, cmd.expires_at - self._wall.now()))
        utterance = Utterance(text=args.text) if args.text is not None else Utterance(clip=args.clip)
        self._pending.announces[cmd.id] = cmd.name
        self.station.announcer.submit(Announcement(
            key="announce", utterance=utterance, priority=args.priority, repeat=args.repeat, interval_s=args.interval_s,
            expires_at=self._clock() + window, cooldown_s=0.0, ref=cmd.id,
        ))

    def on_playback(self, report: PlayReport) -> None:
        """The loudspeaker finished with an item: if a command asked for it, answer that command."""
        name = self._pending.announces.pop(report.ref, None)
        if name is None:
            return
        outcome = report.outcome
        result = {"plays": report.plays, "priority": report.priority, "what": report.what[:200],
                  "started": _iso(report.started) if report.started else None}
        reason = "" if outcome == "completed" else (report.error or f"the loudspeaker reported {outcome}")
        self.reply(report.ref, name, outcome == "completed", outcome, reason, result)

    def _silence(self, cmd: SignedCommand, args: SilenceArgs) -> None:
        if self.station.announcer is None:
            self.reply(cmd.id, cmd.name, False, "failed", "this station has no loudspeaker")
            return
        self.station.silence(args.duration_s, args.force)
        if args.duration_s == 0:
            self.reply(cmd.id, cmd.name, True, "unsilenced")
            return
        self.reply(cmd.id, cmd.name, True, "silenced", result={
            "until": _iso(self._wall.now() + args.duration_s), "emergencies": "silenced" if args.force else "still played",
        })

    def _ack(self, cmd: SignedCommand, args: AckArgs) -> None:
        tr = self.station.acknowledge(args.event_id, args.operator)
        if tr is None:
            self.reply(cmd.id, cmd.name, False, "failed", f"no open alarm has event_id {args.event_id} (already cleared?)")
            return
        self.reply(cmd.id, cmd.name, True, "acked", result={"event_id": args.event_id, "alarm": tr.alarm.kind,
                                                                    "source": tr.alarm.source, "acked_by": args.operator})

    def _status(self) -> dict[str, Any]:
        stats = self.station.queue()
        until = self.station.announcer.silenced_until() if self.station.announcer is not None else None
        return {
            "online": self.station.link().connected, "version": __version__, "config_hash": self.station.cfg.fingerprint(),
            "boot_id": self.station.boot_id, "uptime_s": round(self.station.uptime_s(), 1),
            "clock_synced": self._wall.synced(), "capabilities": self.station.capabilities(),
            "open_alarms": [{"event_id": a.event_id, "alarm": a.kind, "source": a.source, "severity": a.severity,
                             "acked_by": a.acked_by} for a in self.station.open_alarms()],
            "devices": self.station.devices(), "queue_depth": stats.depth, "dropped_total": stats.dropped_total,
            "silenced_until": _iso(self._wall.now() + (until - self._clock())) if until is not None else None,
            "config_trial": self._trial is not None,
        }

    def _selftest(self) -> dict[str, dict[str, Any]]:
        """Checks that need no sound and change nothing: storage, link, loops, devices, clock, keys."""

        def check(ok: bool, detail: str) -> dict[str, Any]:
            return {"ok": bool(ok), "detail": detail}

        stats = self.station.queue()
        stalled = self.station.stalled_loops(self.station.cfg.health.loop_stall_s)
        broken = {d: s for d, s in self.station.devices().items() if s != "ok"}
        checks = {
            "outbox": check(stats.next_seq >= 0, f"{stats.depth} queued, {stats.dropped_total} dropped since the database was made"),
            "uplink": check(self.station.link().connected, "connected" if self.station.link().connected else self.station.link().last_error),
            "loops": check(not stalled, "all beating" if not stalled else f"stalled: {', '.join(stalled)}"),
            "devices": check(not broken, "all ok" if not broken else "; ".join(f"{d}: {s}" for d, s in broken.items())),
            "clock": check(self._wall.synced(), "synchronised" if self._wall.synced() else "not synchronised: ordering by seq"),
            "command_keys": check(bool(self.policy.keys), ", ".join(sorted(self.key_names.values()))),
            "replay_store": check(self.guard.recovered_from is None, self.guard.recovered_from or f"{self.guard.count()} ids remembered"),
        }
        if self.station.announcer is not None:
            err = self.station.announcer.last_error
            checks["loudspeaker"] = check(not err, err or "no error")
        return checks

    # ------------------------------------------------------------------ config/set

    def _config_set(self, cmd: SignedCommand, args: ConfigSetArgs, timeout_s: float | None = None) -> None:
        """`timeout_s`: how long the new file has to get online (a model update's deadline; else the station's own setting)."""
        path = self.config_path
        timeout_s = timeout_s or self.cfg.config_rollback_s
        if path is None:
            self.reply(cmd.id, cmd.name, False, "failed", "this gateway was started without a station file to change")
            return
        if self._trial is not None or config_trial.load_trial(path) is not None:
            self.reply(cmd.id, cmd.name, False, "failed", "another config change is on trial; try again once it is applied or rolled back")
            return
        current = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(current, dict):
            raise ValueError(f"{path} is not a YAML mapping")
        patched = restore_masked(config_trial.merge_patch(current, args.patch), current)
        if f"{MASK}@" in json.dumps(patched, ensure_ascii=False):
            self.reply(cmd.id, cmd.name, False, "rejected", "a URL carries a masked login (***@) that the station cannot restore: "
                       "send the full login, or leave the URL unchanged", {"code": "bad_arguments"})
            return
        try:
            config_trial.check_protected(current, patched)
            new_cfg = StationConfig.model_validate(patched)
        except ValidationError as exc:
            problems = [f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors()][:20]
            self.reply(cmd.id, cmd.name, False, "rejected", "the patched config does not validate: " + "; ".join(problems)[:400],
                       {"code": "bad_arguments", "problems": problems})
            return
        except ValueError as exc:
            self.reply(cmd.id, cmd.name, False, "rejected", str(exc), {"code": "bad_arguments"})
            return
        if not new_cfg.commands.keys:
            self.reply(cmd.id, cmd.name, False, "rejected", "commands.keys: the county may not remove its last key remotely",
                       {"code": "bad_arguments"})
            return
        if patched == current:
            self.reply(cmd.id, cmd.name, True, "unchanged", result={"config_hash": self.station.cfg.fingerprint()})
            return
        text = yaml.safe_dump(patched, allow_unicode=True, sort_keys=False)
        self._trial = config_trial.begin(path, text, cmd.id, timeout_s, self._boot)
        log.warning("config/set %s: new station file written; restarting to try it (rollback after %g s offline)", cmd.id, timeout_s)
        self.reply(cmd.id, cmd.name, True, "restarting", f"restarting on the new file; it is rolled back unless online within {timeout_s:g} s",
                   {"config_hash": new_cfg.fingerprint()})
        self._pending.exit_at = self._clock() + EXIT_DELAY_S

    def tick(self, now: float) -> None:
        """Once a second on the brain thread: report a past rollback, settle a trial, restart when asked."""
        if not self._started:
            self._started = True
            self._report_rollback()
            if self.key_problems:
                self.station.notice("command_keys_invalid", f"county key(s) cannot be loaded, commands they sign are rejected: {'; '.join(self.key_problems)}",
                               severity="danger", source="commands.keys", details={"problems": self.key_problems})
        self._trial = self.updates.tick(now, self._trial)  # a model update's config trial is kept and answered there
        if self._pending.exit_at is not None:
            if not self.station.alarms_queued() or now >= self._pending.exit_at:
                self._pending.exit_at = None
                self.station.request_exit(config_trial.EXIT_RESTART)
            return
        trial, path = self._trial, self.config_path
        if trial is None or path is None or self.station.exit_requested():
            return
        if self.station.link().connected:
            self._trial = None
            same = config_trial.commit(path)
            log.info("config/set %s: online on the new file; kept", trial.command_id)
            self.reply(trial.command_id, "config/set", same, "applied" if same else "failed",
                       "" if same else "the station file was changed by someone else during the trial",
                       {"config_hash": self.station.cfg.fingerprint()})
        elif config_trial.decide(trial, self._boot.now(), self._boot.boot_id) == "rollback":
            self._trial = None
            config_trial.rollback(path, f"the gateway was not back online within {trial.timeout_s:g} s of the change "
                                        f"(last error: {self.station.link().last_error or 'none'})")
            log.error("config/set %s: not online within %g s; previous station file restored, restarting", trial.command_id, trial.timeout_s)
            self.station.request_exit(config_trial.EXIT_RESTART)
        elif trial.boot_id != self._boot.boot_id:
            self._trial = config_trial.restart_countdown(path, trial, self._boot)

    def _report_rollback(self) -> None:
        if self.config_path is None:
            return
        record = config_trial.take_rolled_back(self.config_path)
        if record is None:
            return
        command_id, reason = str(record.get("command_id", "?")), str(record.get("reason", ""))
        self.reply(command_id, "config/set", False, "rolled_back", reason, {"config_hash": self.station.cfg.fingerprint()})
        self.station.notice("config_rolled_back", f"config/set {command_id} was rolled back: {reason}", severity="danger",
                       source=str(self.config_path), details={"command_id": command_id})

    def close(self) -> None:
        self.updates.close()
        self.guard.close()
