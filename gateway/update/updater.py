"""The `update` command on the station: download and install on a worker, switch and prove on the brain thread.

The command desk hands `update` here (`handle`) and calls `tick` once a second on the brain
thread. The download, the checks and the new venv run on one worker thread, so neither the
command loop nor the alarm path waits for a slow link; a second `update` meanwhile is refused as
busy. The worker only posts what happened; every reply and the restart request are made on the
brain thread, as the desk's own.

A software update ends the old process with `EXIT_RESTART` once `restarting` has left; systemd
runs the guard (`gateway.update.guard`) and starts `current`, now the new version. That process
commits when it is connected and has run a whole loop-stall period (`health.loop_stall_s`, the
watchdog's limit) with no loop stalled, and replies `updated`; past the deadline it rolls itself
back. A new version that cannot even start is rolled back by the guard. Either way the old
version, started again, replies `rolled_back` with the reason. The outbox, keys and config live
outside the venvs, so they survive both ways.

A model update goes through the config/set trial (`gateway.commands.config_trial`); a record in
the state folder lets the process that keeps it answer `updated` rather than config/set's `applied`.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foundation.atomic_file import write_atomic
from foundation.version import __version__
from gateway.commands import config_trial
from gateway.commands.config_trial import EXIT_RESTART
from gateway.commands.port import DeskPort
from gateway.update import guard
from gateway.update.bundle_check import WrongBundle, unpack, verify
from gateway.update.download import DownloadError, NoRoom, Tampered, ensure_room, fetch
from gateway.update.model_update import NoModelToUpdate, check_loads, current_model, model_file_name, patch_for
from gateway.update.venvs import InstallError, install, install_root, prune
from wire.command_args import UpdateArgs
from wire.commands import SignedCommand

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 3.0
FREE_AFTER = 200 * 1024 * 1024  # storage left for the outbox and logs whatever an update needs
EXIT_WAIT_S = 10.0  # after `restarting`: how long the reply may take to leave before the restart

ReplyFn = Callable[..., None]  # CommandDesk.reply(command_id, name, ok, outcome, reason="", result=None)
ConfigSetFn = Callable[[SignedCommand, dict[str, Any], float], None]  # the desk's config/set trial for a merge patch, with its deadline (s)


class Updates:
    """One station's software and model updates (one at a time)."""

    def __init__(self, station: DeskPort, reply: ReplyFn, config_set: ConfigSetFn, config_path: Path | None,
                 root: Path | None = None, state_dir: Path | None = None) -> None:
        self.station = station
        self._reply = reply
        self._config_set = config_set
        self.config_path = config_path
        self.root = root if root is not None else install_root()
        self.state_dir = state_dir or Path(station.cfg.outbox.path).absolute().parent / "updates"
        self._events: queue.SimpleQueue[tuple[str, SignedCommand, Any]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._exit_at: float | None = None
        self._started = False
        self._boot = guard.boot_id()
        self._trial = guard.read_json(self.root / guard.TRIAL) if self.root is not None else None
        self._model_record = self.state_dir / "model-trial.json"

    # ------------------------------------------------------------------ brain thread

    def handle(self, cmd: SignedCommand, args: UpdateArgs) -> None:
        """Start an update, or answer at once why not."""
        if (self._worker is not None and self._worker.is_alive()) or self._exit_at is not None or not self._events.empty():
            self._refuse(cmd, "busy", "another update is running on this station; try again when it has ended")
            return
        if args.kind == "software":
            if self.root is None:
                self._refuse(cmd, "not_installed", "this gateway was not installed from a bundle (no `current` link beside its venv)")
                return
            if args.version == __version__:
                self._reply(cmd.id, cmd.name, True, "updated", "already running this version", {"version": __version__, "previous": __version__})
                return
            if (self.root / guard.TRIAL).exists():
                self._refuse(cmd, "busy", "a software update is still on trial")
                return
        elif self.config_path is None:
            self._refuse(cmd, "no_config", "this gateway was started without a station file to change")
            return
        log.warning("update %s: %s %s from %s", cmd.id, args.kind, args.version, args.url)
        self._worker = threading.Thread(target=self._work, args=(cmd, args), name="update", daemon=True)
        self._worker.start()

    def tick(self, now: float, config: config_trial.Trial | None = None) -> config_trial.Trial | None:
        """Replies the worker posted, the restart it asked for, the trial of this version; the desk's config
        trial back, or None when it was a model update this call kept (and answered `updated`)."""
        config = self._keep_model(config)
        if not self._started:
            self._started = True
            self._report_rollback()
        while not self._events.empty():
            self._on_event(now, *self._events.get_nowait())
        if self._exit_at is not None:
            if not self.station.alarms_queued() or now >= self._exit_at:
                self._exit_at = None
                self.station.request_exit(EXIT_RESTART)
            return config
        self._settle_trial()
        return config

    def _keep_model(self, config: config_trial.Trial | None) -> config_trial.Trial | None:
        """Commit a model's config trial once online, as config/set would, but answer `updated` like a software update."""
        if config is None or self.config_path is None or not self.station.link().connected or self.station.exit_requested():
            return config
        record = guard.read_json(self._model_record)
        if record is None or record.get("command_id") != config.command_id:
            return config
        self._model_record.unlink(missing_ok=True)
        same = config_trial.commit(self.config_path)
        log.warning("update %s: online with model %s; kept", config.command_id, record.get("version"))
        self._reply(config.command_id, "update", same, "updated" if same else "failed",
                    "" if same else "the station file was changed by someone else during the trial",
                    {"version": record.get("version"), "previous": record.get("previous")})
        return None

    def close(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=5)

    def _refuse(self, cmd: SignedCommand, code: str, reason: str) -> None:
        self._reply(cmd.id, cmd.name, False, "refused", reason, {"code": code})

    def _on_event(self, now: float, kind: str, cmd: SignedCommand, data: Any) -> None:
        if kind == "progress":
            self._reply(cmd.id, cmd.name, True, "downloading", "", data)
        elif kind == "restarting":
            self._reply(cmd.id, cmd.name, True, "restarting", f"restarting on {data['to']}; rolled back unless online with every loop beating in time", data)
            self._exit_at = now + EXIT_WAIT_S
        elif kind == "config_set":  # a model: the config/set trial, answered `updated` by the process that keeps it
            self.state_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self._model_record, json.dumps({"command_id": cmd.id, "version": data["version"], "previous": data["previous"]}).encode())
            self._config_set(cmd, data["patch"], float(data["deadline_s"]))  # the county's deadline, as for software
            trial = config_trial.load_trial(self.config_path) if self.config_path is not None else None
            if trial is None or trial.command_id != cmd.id:  # refused or unchanged: the desk has answered
                self._model_record.unlink(missing_ok=True)
        else:  # a final outcome: (outcome, code, reason)
            outcome, code, reason = data
            self._reply(cmd.id, cmd.name, False, outcome, reason, {"code": code})
            self.station.notice("update_failed", f"update {cmd.id} {outcome}: {reason}", source="update", details={"command_id": cmd.id, "code": code})

    def _settle_trial(self) -> None:
        trial, root = self._trial, self.root
        if trial is None or root is None or self.station.exit_requested():
            return
        if trial.get("to") != __version__ or guard.current_version(root) != __version__:
            self._trial = None
            return
        link = self.station.link()
        stalled = self.station.stalled_loops(self.station.cfg.health.loop_stall_s)
        # a whole stall period with every loop beating: a loop wedged at start is stalled by then (at most half the deadline)
        settle_s = min(self.station.cfg.health.loop_stall_s, float(trial.get("timeout_s", 300)) / 2)
        if link.connected and not stalled and self.station.uptime_s() >= settle_s:
            self._trial = None
            guard.commit(root)
            removed = prune(root, keep_also=str(trial.get("from", "")))
            shutil.rmtree(self.state_dir, ignore_errors=True)
            log.warning("update %s: version %s is online with every loop beating; kept (removed old: %s)", trial.get("command_id"), __version__, removed or "none")
            self._reply(str(trial.get("command_id", "?")), "update", True, "updated", "", {"version": __version__, "previous": trial.get("from")})
        elif trial.get("boot_id") == self._boot and guard.boot_now() >= float(trial.get("deadline", 0)):
            self._trial = None
            why = "not connected (last error: " + (link.last_error or "none") + ")" if not link.connected else f"loops stalled: {', '.join(stalled) or 'none'}"
            guard.roll_back(root, trial, f"version {__version__} was not online with every loop beating within {float(trial.get('timeout_s', 0)):g} s: {why}")
            log.error("update %s: %s; switched back to %s, restarting", trial.get("command_id"), why, trial.get("from"))
            self.station.request_exit(EXIT_RESTART)

    def _report_rollback(self) -> None:
        record = guard.take_rolled_back(self.root) if self.root is not None else None
        if record is None:
            return
        command_id, reason = str(record.get("command_id", "?")), str(record.get("reason", ""))
        self._reply(command_id, "update", False, "rolled_back", reason,
                    {"version": __version__, "failed": record.get("failed"), "reason": reason})
        self.station.notice("update_rolled_back", f"update {command_id} to {record.get('failed')} was rolled back: {reason}",
                            severity="danger", source="update", details={"command_id": command_id, "failed": record.get("failed")})

    # ------------------------------------------------------------------ worker thread

    def _work(self, cmd: SignedCommand, args: UpdateArgs) -> None:
        try:
            if args.kind == "software":
                self._software(cmd, args)
            else:
                self._model(cmd, args)
        except Tampered as exc:
            self._events.put(("final", cmd, ("refused", "tampered", str(exc))))
        except (WrongBundle, NoModelToUpdate) as exc:
            self._events.put(("final", cmd, ("refused", "wrong_bundle" if isinstance(exc, WrongBundle) else "no_model", str(exc))))
        except NoRoom as exc:
            self._events.put(("final", cmd, ("refused", "no_space", str(exc))))
        except DownloadError as exc:
            self._events.put(("final", cmd, ("failed", "download", str(exc))))
        except InstallError as exc:
            self._events.put(("final", cmd, ("failed", "install", str(exc))))
        except Exception as exc:  # noqa: BLE001 - an update must never take the station down
            log.exception("update %s failed", cmd.id)
            self._events.put(("final", cmd, ("failed", "error", f"{type(exc).__name__}: {exc}"[:300])))

    def _fetch(self, cmd: SignedCommand, args: UpdateArgs, dest: Path) -> Path:
        last = [0.0]

        def progress(done: int) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
                last[0] = time.monotonic()
                self._events.put(("progress", cmd, {"bytes": done, "size": args.size}))

        progress(0)
        return fetch(args.url, dest, args.size, args.sha256, progress, self._stop)

    def _software(self, cmd: SignedCommand, args: UpdateArgs) -> None:
        assert self.root is not None
        # the archive and what it unpacks to (2x), the new venv (about 3.3x a bundle's size, measured: 4x asked)
        ensure_room({self.state_dir: 2 * args.size, self.root: 4 * args.size}, FREE_AFTER)
        archive = self._fetch(cmd, args, self.state_dir / f"{args.version}.tar.gz")
        unpacked = self.state_dir / f"{args.version}.unpacked"
        try:
            bundle = verify(unpack(archive, unpacked), args.version)
            install(bundle, self.root, self._stop)
        except Tampered:
            archive.unlink(missing_ok=True)  # never installed from, never resumed from
            raise
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)
        old = guard.current_version(self.root) or __version__
        guard.begin(self.root, cmd.id, old, args.version, float(args.deadline_s), guard.boot_now(), self._boot)
        self._events.put(("restarting", cmd, {"from": old, "to": args.version}))

    def _model(self, cmd: SignedCommand, args: UpdateArgs) -> None:
        assert self.config_path is not None
        folder, written = current_model(self.config_path)
        name = model_file_name(args.version, args.sha256)
        ensure_room({folder: args.size}, FREE_AFTER)
        dest = self._fetch(cmd, args, folder / name)
        try:
            check_loads(dest)
        except ValueError as exc:
            dest.unlink(missing_ok=True)
            self._events.put(("final", cmd, ("refused", "not_a_model", f"not a model this station can run: {exc}"[:300])))
            return
        patch = patch_for(self.config_path, str(Path(written).parent / name), args.sha256)
        self._events.put(("config_set", cmd, {"patch": patch, "version": args.version, "previous": Path(written).name, "deadline_s": args.deadline_s}))
