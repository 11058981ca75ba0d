"""One connection to the county database for the closed loop (people, cases, notifications).

The ingest's `Store` gives the dialect and an autocommit connection; this adds a re-entrant lock
(a connection is used by one thread at a time, and the audit log, written through `Accounts`
inside a case's transaction, takes the same lock) and explicit transactions, so a case, its
alarm links, its step, its audit entry and its queued notifications are committed together.
Each thread that works on its own (the ingest hook's opener, the notification sender, a CLI
run) makes its own `LoopDb`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from county.store import Store

T = TypeVar("T")


class LoopDb:
    """A Store plus a lock and transactions; tables are made with `ensure` (CREATE ... IF NOT EXISTS, both dialects)."""

    def __init__(self, url: str) -> None:
        self.store = Store(url)
        self.dialect = self.store.dialect
        self.lock = threading.RLock()
        self._depth = 0

    def ensure(self, statements: Sequence[str]) -> None:
        with self.lock:
            for statement in statements:
                self.store.execute(statement)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` under the lock (the guard `Accounts` takes)."""
        with self.lock:
            if not self._depth:
                self.store.reconnect_if_broken()  # PostgreSQL dropped us (a restart): one failed call, not all after it
            return fn(*args)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT under the lock; ROLLBACK when the body raises. Nested uses join the outer one."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.store.reconnect_if_broken()
            self.store.execute(self.dialect.begin)
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                with contextlib.suppress(Exception):
                    self.store.execute("ROLLBACK")
                raise
            self._depth = 0
            self.store.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.store.query(sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.lock:
            return self.store.execute(sql, params)

    def ts(self, value: float | None) -> Any:
        return self.dialect.ts(value)

    def close(self) -> None:
        with self.lock:
            self.store.close()
