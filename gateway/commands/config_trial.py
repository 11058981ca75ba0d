"""config/set: a new station file on trial, kept only if the gateway gets back online in time.

The design, chosen for a station nobody can reach by hand:

1. The patch is merged into the station file's document (RFC 7396 merge patch) and validated
   with the config models; identity (`station`) and storage (`outbox`) are the technician's and
   may not be changed remotely, and the county may not remove its own last key.
2. Three atomic writes (temp file, fsync, rename): the current file is copied to
   `<file>.rollback`, a trial marker `<file>.trial` records the command and a deadline, and the
   new file replaces the old one.
3. The gateway exits with `EXIT_RESTART` (75); systemd (`Restart=always`) starts it again on
   the new file.
4. The new process, on seeing the marker, commits once the uplink is connected (marker removed,
   the old file kept as `<file>.previous`, reply `applied`); if the deadline passes first, it
   restores the old file, keeps the failed one as `<file>.failed`, records why in
   `<file>.rolled-back` and exits 75 again. The process after it, on the old file, publishes the
   `rolled_back` reply and a notice.

The deadline is on CLOCK_BOOTTIME (steady across process restarts, immune to wall-clock jumps)
with the kernel's boot id: a process that keeps crashing on the new file is rolled back at the
first start after the deadline (`settle_before_start`), and a reboot during the trial restarts
the countdown rather than trusting a clock from another boot.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from foundation.atomic_file import write_atomic
from gateway.update import guard

EXIT_RESTART = 75  # EX_TEMPFAIL: "start me again" for systemd
PROTECTED = ("station", "outbox")


class BootClock:
    """Seconds since boot (CLOCK_BOOTTIME, counts suspend too) and the kernel's boot id: the update guard's, which
    lives in the standard library alone because it must run when the gateway's own code cannot."""

    def __init__(self) -> None:
        self.boot_id = guard.boot_id()

    def now(self) -> float:
        return guard.boot_now()


@dataclass(frozen=True, slots=True)
class Trial:
    """A new station file waiting to prove itself."""

    command_id: str
    deadline: float  # CLOCK_BOOTTIME
    boot_id: str
    timeout_s: float
    file_sha256: str


def trial_path(config: Path) -> Path:
    return Path(f"{config}.trial")


def rollback_path(config: Path) -> Path:
    return Path(f"{config}.rollback")


def rolled_back_path(config: Path) -> Path:
    return Path(f"{config}.rolled-back")


def previous_path(config: Path) -> Path:
    return Path(f"{config}.previous")


def failed_path(config: Path) -> Path:
    return Path(f"{config}.failed")


# ------------------------------------------------------------------------------- pure parts


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def check_protected(current: dict[str, Any], patched: dict[str, Any]) -> None:
    """ValueError if the patch touches what only a technician may change."""
    for key in PROTECTED:
        if current.get(key) != patched.get(key):
            raise ValueError(f"{key}: may not be changed by a remote command (technician only)")


def decide(trial: Trial, now: float, boot_id: str) -> str:
    """'wait' while the trial may still succeed, 'rollback' once its deadline has passed."""
    if boot_id != trial.boot_id:
        return "wait"  # the caller restarts the countdown for this boot
    return "rollback" if now >= trial.deadline else "wait"


# ------------------------------------------------------------------------------- files


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def load_trial(config: Path) -> Trial | None:
    """The trial in progress, if any (an unreadable marker counts as none)."""
    try:
        return Trial(**json.loads(trial_path(config).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _save_trial(config: Path, trial: Trial) -> None:
    write_atomic(trial_path(config), json.dumps(asdict(trial)).encode())


def begin(config: Path, new_text: str, command_id: str, timeout_s: float, boot: BootClock) -> Trial:
    """Put a new station file on trial: keep the old one, write the marker, then the new file."""
    old = config.read_bytes()
    data = new_text.encode("utf-8")
    trial = Trial(command_id, boot.now() + timeout_s, boot.boot_id, timeout_s, hashlib.sha256(data).hexdigest())
    write_atomic(rollback_path(config), old, like=config)
    _save_trial(config, trial)
    try:
        write_atomic(config, data, like=config)
    except OSError:
        _remove(trial_path(config))
        raise
    return trial


def restart_countdown(config: Path, trial: Trial, boot: BootClock) -> Trial:
    """A new boot during the trial: give the new file a full window on this boot."""
    fresh = Trial(trial.command_id, boot.now() + trial.timeout_s, boot.boot_id, trial.timeout_s, trial.file_sha256)
    _save_trial(config, fresh)
    return fresh


def commit(config: Path) -> bool:
    """Keep the new file; True if it is the one the trial wrote (not replaced by hand meanwhile)."""
    trial = load_trial(config)
    _remove(trial_path(config))
    rb = rollback_path(config)
    if rb.exists():
        os.replace(rb, previous_path(config))
    try:
        return trial is not None and hashlib.sha256(config.read_bytes()).hexdigest() == trial.file_sha256
    except OSError:
        return False


def rollback(config: Path, reason: str) -> bool:
    """Restore the file from before the trial and record why; False if there was nothing to restore."""
    trial = load_trial(config)
    rb = rollback_path(config)
    if trial is None or not rb.exists():
        _remove(trial_path(config))
        return False
    if config.exists():
        write_atomic(failed_path(config), config.read_bytes(), like=config)
    write_atomic(config, rb.read_bytes(), like=config)
    write_atomic(rolled_back_path(config), json.dumps({"command_id": trial.command_id, "reason": reason}).encode())
    _remove(trial_path(config))
    _remove(rb)
    return True


def take_rolled_back(config: Path) -> dict[str, str] | None:
    """The record of a rollback not yet reported (removed once read)."""
    path = rolled_back_path(config)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    _remove(path)
    return record if isinstance(record, dict) else None


def settle_before_start(config: Path, boot: BootClock | None = None) -> bool:
    """At process start: roll back a trial whose deadline passed while the gateway was down or crashing."""
    trial = load_trial(config)
    if trial is None:
        return False
    boot = boot or BootClock()
    if decide(trial, boot.now(), boot.boot_id) == "rollback":
        return rollback(config, f"the gateway was not back online within {trial.timeout_s:g} s of the change")
    if trial.boot_id != boot.boot_id:
        restart_countdown(config, trial, boot)
    return False
