"""write_atomic: the whole new file or the old one, with the right mode, and no debris on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.atomic_file import write_atomic


def test_mode_is_kept_taken_from_like_or_given(tmp_path: Path) -> None:
    secret = tmp_path / "station.yaml"
    secret.write_text("old")
    secret.chmod(0o600)
    write_atomic(secret, "新的配置")
    assert secret.read_text(encoding="utf-8") == "新的配置" and secret.stat().st_mode & 0o777 == 0o600
    backup = tmp_path / "station.yaml.rollback"
    write_atomic(backup, b"old", like=secret)
    assert backup.stat().st_mode & 0o777 == 0o600
    unit = tmp_path / "gateway.service"
    write_atomic(unit, "[Unit]\n", mode=0o644)
    assert unit.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gateway.service", "station.yaml", "station.yaml.rollback"]


def test_a_failed_replace_leaves_the_target_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()  # a directory cannot be replaced by a file
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        write_atomic(target, b"data")
    assert (target / "inside").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]
