"""The login rules without a server: the throttle (time passed in) and hashing outside the database lock."""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher

from county.accounts import Accounts
from county.store import Store
from county.web.data import Database
from county.web.throttle import ADDRESS_FREE, LoginThrottle

T0 = 1_800_000_000.0


def test_a_name_is_locked_after_five_failures_whether_or_not_it_exists() -> None:
    throttle = LoginThrottle()
    for i in range(5):
        assert throttle.attempt(f"10.0.0.{i}", "anyone", T0 + i) == 0  # from five addresses: the name counts
    assert throttle.attempt("10.0.0.9", "anyone", T0 + 5) > 0  # 60 s from the 5th failure
    assert throttle.wait("10.0.0.9", "anyone", T0 + 63.9) > 0
    assert throttle.attempt("10.0.0.9", "anyone", T0 + 64) == 0  # the lock ran out; the next failure locks for 120 s
    assert 119 < throttle.wait("10.0.0.9", "anyone", T0 + 64) <= 120
    assert throttle.wait("10.0.0.9", "someone-else", T0 + 64) == 0


def test_a_success_wipes_the_counts() -> None:
    throttle = LoginThrottle()
    for i in range(4):
        throttle.attempt("10.0.0.1", "duty", T0 + i)
    throttle.succeeded("10.0.0.1", "duty")
    for i in range(4):
        assert throttle.attempt("10.0.0.1", "duty", T0 + 10 + i) == 0


def test_attempts_at_once_are_counted_before_any_password_is_checked() -> None:
    """Ten logins in the same instant: five go to the password check, the rest wait, no hash spent on them."""
    throttle = LoginThrottle()
    let_through = [throttle.attempt("10.0.0.1", "duty", T0) == 0 for _ in range(10)]
    assert let_through.count(True) == 5


def test_one_address_trying_many_names_is_held_back_too() -> None:
    throttle = LoginThrottle()
    for i in range(ADDRESS_FREE):
        assert throttle.attempt("10.0.0.1", f"name-{i}", T0 + i) == 0
    assert throttle.attempt("10.0.0.1", "fresh-name", T0 + ADDRESS_FREE) > 0
    assert throttle.attempt("10.0.0.2", "fresh-name", T0 + ADDRESS_FREE) == 0


def test_the_tables_stay_bounded() -> None:
    throttle = LoginThrottle(max_entries=100)
    for i in range(1000):
        throttle.attempt(f"10.0.{i // 250}.{i % 250}", f"name-{i}", T0)
    assert len(throttle._names) == 100 and len(throttle._addresses) == 100


class LockWatchingHasher(PasswordHasher):
    """argon2 as it is, noting whether the database lock was held while it hashed."""

    def __init__(self, lock) -> None:  # noqa: ANN001
        super().__init__()
        self.lock, self.held = lock, []

    def verify(self, hash, password) -> bool:  # noqa: A002, ANN001
        self.held.append(self.lock.locked())
        return super().verify(hash, password)


def test_passwords_are_checked_outside_the_database_lock(tmp_path: Path) -> None:
    db = Database(Store(f"sqlite:///{tmp_path / 'county.db'}"))
    hasher = LockWatchingHasher(db.lock)
    accounts = Accounts(db.store, hasher, guard=db.call)
    accounts.add("duty", "correct horse battery", "410421")
    assert accounts.verify("duty", "correct horse battery", T0) is not None
    assert accounts.verify("duty", "wrong password", T0) is None
    assert accounts.verify("nobody", "wrong password", T0) is None
    assert hasher.held == [False, False, False]
    db.store.close()


def test_sessions_end_on_logout_new_password_disabling_and_age(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'county.db'}")
    accounts = Accounts(store)
    accounts.add("duty", "correct horse battery", "410421")
    first, second = accounts.start_session("duty", T0), accounts.start_session("duty", T0 + 10)
    assert accounts.session(first, T0 + 20, 3600).name == "duty"
    assert accounts.session(first, T0 + 3601, 3600) is None  # older than a shift
    accounts.end_session(first)
    assert accounts.session(first, T0 + 20, 3600) is None and accounts.session(second, T0 + 20, 3600) is not None
    assert accounts.end_sessions("duty", older_than=T0 + 5) == 0
    accounts.set_password("duty", "another password 9")
    assert accounts.session(second, T0 + 20, 3600) is None
    third = accounts.start_session("duty", T0 + 30)
    accounts.set_enabled("duty", False)
    accounts.set_enabled("duty", True)
    assert accounts.session(third, T0 + 40, 3600) is None
    assert accounts.session("made-up", T0 + 40, 3600) is None
    store.close()
