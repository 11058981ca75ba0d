"""write_atomic: the whole new file or the old one, with the right mode, and no debris on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.atomic_file import atomic_replace, write_atomic


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


def test_a_file_written_in_place_becomes_the_target_only_when_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old model")
    with atomic_replace(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        with tmp.open("wb") as out:
            for chunk in (b"new ", b"model"):
                out.write(chunk)
        assert target.read_bytes() == b"old model"  # not yet: the caller may still reject it
    assert target.read_bytes() == b"new model" and target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]


def test_a_rejected_file_written_in_place_leaves_the_target_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old model")
    with pytest.raises(ValueError, match="sha256 mismatch"):
        with atomic_replace(target) as tmp:
            tmp.write_bytes(b"half a downlo")
            raise ValueError("sha256 mismatch")
    assert target.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]
