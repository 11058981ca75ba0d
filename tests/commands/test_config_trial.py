"""config/set's trial: merge patch, protected fields, the deadline across restarts and reboots, rollback files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.commands import config_trial as ct


class FakeBoot(ct.BootClock):
    def __init__(self, t: float = 100.0, boot_id: str = "boot-a") -> None:
        self.t, self.boot_id = t, boot_id

    def now(self) -> float:
        return self.t


def test_merge_patch_follows_rfc_7396() -> None:
    doc = {"a": {"b": 1, "c": 2}, "l": [1, 2], "k": "v"}
    assert ct.merge_patch(doc, {"a": {"b": 9, "c": None}, "l": [3], "n": {"x": 1}}) == {"a": {"b": 9}, "l": [3], "k": "v", "n": {"x": 1}}
    assert doc == {"a": {"b": 1, "c": 2}, "l": [1, 2], "k": "v"}  # the input is not changed


def test_identity_and_storage_are_the_technicians() -> None:
    doc = {"station": {"id": "a"}, "outbox": {"path": "/x"}, "health": {}}
    ct.check_protected(doc, ct.merge_patch(doc, {"health": {"interval_s": 5}}))
    for patch in ({"station": {"id": "b"}}, {"outbox": {"path": "/tmp/y"}}, {"outbox": None}):
        with pytest.raises(ValueError, match="technician"):
            ct.check_protected(doc, ct.merge_patch(doc, patch))


def test_commit_keeps_the_new_file_and_the_old_as_previous(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text("old: 1\n")
    boot = FakeBoot()
    trial = ct.begin(config, "new: 2\n", "c-1", 30, boot)
    assert config.read_text() == "new: 2\n" and ct.load_trial(config) == trial and trial.deadline == 130
    assert ct.commit(config)
    assert ct.load_trial(config) is None and ct.previous_path(config).read_text() == "old: 1\n"
    assert not ct.rollback_path(config).exists()


def test_rollback_restores_the_old_file_and_records_why_once(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text("old: 1\n")
    ct.begin(config, "new: 2\n", "c-1", 30, FakeBoot())
    assert ct.rollback(config, "not online")
    assert config.read_text() == "old: 1\n" and ct.failed_path(config).read_text() == "new: 2\n"
    assert ct.load_trial(config) is None
    assert ct.take_rolled_back(config) == {"command_id": "c-1", "reason": "not online"}
    assert ct.take_rolled_back(config) is None


def test_a_gateway_crashing_on_the_new_file_is_rolled_back_at_the_first_start_after_the_deadline(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text("old: 1\n")
    boot = FakeBoot(t=100)
    ct.begin(config, "new: 2\n", "c-1", 30, boot)
    boot.t = 120
    assert not ct.settle_before_start(config, boot) and config.read_text() == "new: 2\n"
    boot.t = 131
    assert ct.settle_before_start(config, boot) and config.read_text() == "old: 1\n"


def test_a_reboot_during_the_trial_restarts_the_countdown(tmp_path: Path) -> None:
    config = tmp_path / "station.yaml"
    config.write_text("old: 1\n")
    ct.begin(config, "new: 2\n", "c-1", 30, FakeBoot(t=100, boot_id="boot-a"))
    rebooted = FakeBoot(t=5, boot_id="boot-b")
    assert not ct.settle_before_start(config, rebooted)
    trial = ct.load_trial(config)
    assert trial is not None and trial.boot_id == "boot-b" and trial.deadline == 35
    assert ct.decide(trial, 36, "boot-b") == "rollback"
