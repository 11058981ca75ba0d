"""Command ids survive restarts; the time floor never goes back; a lost store refuses older commands."""

from __future__ import annotations

from pathlib import Path

from gateway.commands.replay_guard import ReplayGuard

NOW = 1_780_000_000.0


def test_an_id_is_claimed_once_even_across_reopening(tmp_path: Path) -> None:
    guard = ReplayGuard(tmp_path / "c.db", now=NOW, synced=True)
    assert guard.claim("c-1", expires_at=int(NOW) + 300, forget_before=NOW - 60, now=NOW)
    assert not guard.claim("c-1", expires_at=int(NOW) + 300, forget_before=NOW - 60, now=NOW)
    guard.close()
    again = ReplayGuard(tmp_path / "c.db", now=NOW + 5, synced=True)
    assert again.seen("c-1")
    assert not again.claim("c-1", expires_at=int(NOW) + 300, forget_before=NOW - 60, now=NOW + 5)
    assert again.reset_at == 0.0  # a store that was never lost refuses nothing for its age
    again.close()


def test_expired_ids_are_forgotten(tmp_path: Path) -> None:
    guard = ReplayGuard(tmp_path / "c.db", now=NOW, synced=True)
    guard.claim("old", expires_at=int(NOW) - 500, forget_before=0, now=NOW)
    guard.claim("new", expires_at=int(NOW) + 500, forget_before=NOW - 60, now=NOW)
    assert not guard.seen("old") and guard.seen("new") and guard.count() == 1
    guard.close()


def test_the_floor_only_rises_and_survives_restarts(tmp_path: Path) -> None:
    guard = ReplayGuard(tmp_path / "c.db", now=NOW, synced=True)
    guard.advance(NOW + 100)
    guard.advance(NOW + 50)
    assert guard.floor == NOW + 100
    guard.close()
    assert ReplayGuard(tmp_path / "c.db", now=0, synced=False).floor == NOW + 100


def test_a_corrupt_store_is_moved_aside_and_restarts_the_record(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    path.write_bytes(b"this is not sqlite" * 100)
    guard = ReplayGuard(path, now=NOW, synced=True)
    assert guard.recovered_from is not None and "moved to" in guard.recovered_from
    assert guard.reset_at == NOW and guard.floor == 0.0
    assert list(tmp_path.glob("c.db.corrupt-*"))
    assert guard.claim("c-1", int(NOW) + 10, NOW - 60, NOW)
    guard.close()


def test_a_store_recovered_before_ntp_records_no_reset_time(tmp_path: Path) -> None:
    (tmp_path / "c.db").write_bytes(b"garbage" * 100)
    guard = ReplayGuard(tmp_path / "c.db", now=5.0, synced=False)
    assert guard.recovered_from is not None and guard.reset_at == 0.0 and guard.floor == 0.0
    guard.close()
