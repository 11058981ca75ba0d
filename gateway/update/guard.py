"""The software trial's guard: switches `current` back when a new version cannot prove itself.

Why a guard outside both versions: a new version whose code is broken cannot roll itself back.
This file imports nothing but the standard library, so the installer copies it to
`<root>/update-guard` and systemd runs it with the system's python3 before every start
(`ExecStartPre=-/usr/bin/python3 <root>/update-guard <root>`). On each start under trial it
counts the start; past the deadline (CLOCK_BOOTTIME with the kernel's boot id, as
`gateway.commands.config_trial`) or after `max_starts` starts it points `current` back at the
old version and leaves a record for the old version to reply `rolled_back` with. It never
fails the start: whatever goes wrong, it exits 0 and systemd starts `current`.

The running gateway uses the same functions (`gateway.update.trial`): one marker format, one
switch. Files in `<root>`: `update-trial.json` (the trial), `update-rolled-back.json` (a
rollback not yet reported). Writes are atomic (temp file, fsync, rename) by hand here, since
`foundation.atomic_file` is not importable from outside the venvs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

TRIAL = "update-trial.json"
ROLLED_BACK = "update-rolled-back.json"
CURRENT = "current"
MAX_STARTS = 3  # a version that exits before committing this many times is rolled back


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-" + uuid.uuid4().hex  # no boot id: every process counts as a new boot


def boot_now() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Atomically: a crash leaves the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def current_version(root: Path) -> str | None:
    try:
        return os.readlink(root / CURRENT)
    except OSError:
        return None


def switch_current(root: Path, version: str) -> None:
    """Point `current` at `<root>/<version>` in one rename (as install.sh: ln -sfn + mv -T)."""
    tmp = root / f"{CURRENT}.new"
    tmp.unlink(missing_ok=True)
    os.symlink(version, tmp)
    os.replace(tmp, root / CURRENT)


def roll_back(root: Path, trial: dict[str, Any], reason: str) -> None:
    """Back to the version before the trial; the record tells that version what to reply."""
    old, new = str(trial.get("from", "")), str(trial.get("to", ""))
    if old and (root / old).is_dir():
        switch_current(root, old)
    write_json(root / ROLLED_BACK, {"command_id": trial.get("command_id", "?"), "version": old, "failed": new, "reason": reason})
    (root / TRIAL).unlink(missing_ok=True)


def begin(root: Path, command_id: str, old: str, new: str, timeout_s: float, now: float, boot: str) -> dict[str, Any]:
    """Put `<root>/<new>` on trial: the marker first, then the switch (a crash between them is settled as a failed start)."""
    trial = {"command_id": command_id, "from": old, "to": new, "timeout_s": timeout_s, "deadline": now + timeout_s,
             "boot_id": boot, "starts": 0, "max_starts": MAX_STARTS}
    write_json(root / TRIAL, trial)
    try:
        switch_current(root, new)
    except OSError:
        (root / TRIAL).unlink(missing_ok=True)
        raise
    return trial


def commit(root: Path) -> dict[str, Any] | None:
    """The new version proved itself: end the trial (the old venv stays as the fallback)."""
    trial = read_json(root / TRIAL)
    (root / TRIAL).unlink(missing_ok=True)
    return trial


def take_rolled_back(root: Path) -> dict[str, Any] | None:
    """A rollback not yet reported, removed once read."""
    record = read_json(root / ROLLED_BACK)
    (root / ROLLED_BACK).unlink(missing_ok=True)
    return record


def settle(root: Path, now: float, boot: str) -> str:
    """Before a start: 'none' (no trial), 'trying' (counted), or 'rolled_back'."""
    trial = read_json(root / TRIAL)
    if trial is None:
        return "none"
    timeout = float(trial.get("timeout_s", 300))
    if trial.get("boot_id") != boot:  # a reboot during the trial: a full window on this boot
        trial.update(boot_id=boot, deadline=now + timeout)
    trial["starts"] = int(trial.get("starts", 0)) + 1
    if trial["starts"] > int(trial.get("max_starts", MAX_STARTS)):
        roll_back(root, trial, f"version {trial.get('to')} did not come up: {trial['starts'] - 1} starts without committing")
        return "rolled_back"
    if now >= float(trial.get("deadline", 0)):
        roll_back(root, trial, f"version {trial.get('to')} was not online with every loop beating within {timeout:g} s")
        return "rolled_back"
    write_json(root / TRIAL, trial)
    return "trying"


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    try:
        what = settle(root, boot_now(), boot_id())
    except Exception as exc:  # noqa: BLE001 - the guard must never stop the gateway from starting
        print(f"update-guard: {exc}", file=sys.stderr)
        return 0
    if what != "none":
        print(f"update-guard: {what} (current -> {current_version(root)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
