"""The update guard systemd runs before every start: it counts starts under trial and switches back in time."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gateway.update import guard
from tests.update.supervisor import SYSTEM_PYTHON

BOOT = "boot-a"


def versions(tmp_path: Path) -> Path:
    root = tmp_path / "opt"
    for v in ("1.0", "2.0"):
        (root / v / "bin").mkdir(parents=True)
    guard.switch_current(root, "1.0")
    return root


def test_a_version_that_never_comes_up_is_switched_back_after_its_starts(tmp_path: Path) -> None:
    root = versions(tmp_path)
    guard.begin(root, "cmd-1", "1.0", "2.0", 300, now=100.0, boot=BOOT)
    assert os.readlink(root / "current") == "2.0"
    assert [guard.settle(root, 101.0 + i, BOOT) for i in range(guard.MAX_STARTS)] == ["trying"] * guard.MAX_STARTS
    assert guard.settle(root, 110.0, BOOT) == "rolled_back"
    assert os.readlink(root / "current") == "1.0" and not (root / guard.TRIAL).exists()
    record = guard.take_rolled_back(root)
    assert record == {"command_id": "cmd-1", "version": "1.0", "failed": "2.0",
                      "reason": f"version 2.0 did not come up: {guard.MAX_STARTS} starts without committing"}
    assert guard.take_rolled_back(root) is None  # reported once
    assert guard.settle(root, 111.0, BOOT) == "none"


def test_past_the_deadline_the_next_start_is_the_old_version(tmp_path: Path) -> None:
    root = versions(tmp_path)
    guard.begin(root, "cmd-1", "1.0", "2.0", 60, now=100.0, boot=BOOT)
    assert guard.settle(root, 159.0, BOOT) == "trying"
    assert guard.settle(root, 161.0, BOOT) == "rolled_back"
    assert "within 60 s" in guard.take_rolled_back(root)["reason"]  # type: ignore[index]


def test_a_reboot_during_the_trial_gives_a_full_window_on_the_new_boot(tmp_path: Path) -> None:
    root = versions(tmp_path)
    guard.begin(root, "cmd-1", "1.0", "2.0", 60, now=5000.0, boot=BOOT)
    assert guard.settle(root, 10.0, "boot-b") == "trying"  # the boot clock began again at 0
    assert guard.read_json(root / guard.TRIAL)["deadline"] == 70.0  # type: ignore[index]


def test_a_committed_version_is_left_alone(tmp_path: Path) -> None:
    root = versions(tmp_path)
    guard.begin(root, "cmd-1", "1.0", "2.0", 60, now=100.0, boot=BOOT)
    guard.commit(root)
    assert guard.settle(root, 1e6, BOOT) == "none" and os.readlink(root / "current") == "2.0"


def test_the_guard_runs_on_the_system_python_alone_and_never_fails_a_start(tmp_path: Path) -> None:
    root = versions(tmp_path)
    script = root / "update-guard"
    script.write_bytes(Path(guard.__file__).read_bytes())
    guard.begin(root, "cmd-1", "1.0", "2.0", 60, now=0.0, boot="another boot")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # no venv, no PYTHONPATH: the standard library only
    for _ in range(guard.MAX_STARTS + 1):
        done = subprocess.run([SYSTEM_PYTHON, str(script), str(root)], capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
    assert os.readlink(root / "current") == "1.0" and "rolled_back" in done.stderr
    (root / guard.TRIAL).write_text("{not json")  # a damaged marker: counted as none, the start goes on
    assert subprocess.run([SYSTEM_PYTHON, str(script), str(root)], env=env, check=False).returncode == 0
