"""How often logins may be tried, per source address and per name (a pure rule: time is passed in).

Every attempt counts as a failure the moment it starts (so ten at once cannot all slip through
before the first is counted) and a success wipes the counts. A name is locked by the same rule
as the accounts in the database (`lockout_seconds`), whether or not an account of that name
exists, so the answer never tells which names exist. An address may fail more often (a shared
office behind one NAT) before it waits too. The tables are bounded: the oldest entries go first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from county.accounts import lockout_seconds

ADDRESS_FREE = 20  # failures in a row from one address before it waits (then as for a name)
MAX_ENTRIES = 10_000
FORGET_AFTER_S = 24 * 3600.0  # a name or address that stayed quiet this long starts afresh


@dataclass
class _Count:
    failures: int
    last: float


class LoginThrottle:
    """`attempt` before checking a password, `succeeded` after a right one."""

    def __init__(self, address_free: int = ADDRESS_FREE, max_entries: int = MAX_ENTRIES) -> None:
        self.address_free, self.max_entries = address_free, max_entries
        self._names: OrderedDict[str, _Count] = OrderedDict()
        self._addresses: OrderedDict[str, _Count] = OrderedDict()

    def wait(self, address: str, name: str, now: float) -> float:
        """Seconds before this address may try this name again (0: now)."""
        return max(self._wait(self._names, name, 0, now), self._wait(self._addresses, address, self.address_free - 5, now))

    def attempt(self, address: str, name: str, now: float) -> float:
        """0 and the attempt counted (as failed until `succeeded`), or the seconds to wait (and nothing counted)."""
        wait = self.wait(address, name, now)
        if wait > 0:
            return wait
        self._count(self._names, name, now)
        self._count(self._addresses, address, now)
        return 0.0

    def succeeded(self, address: str, name: str) -> None:
        self._names.pop(name, None)
        self._addresses.pop(address, None)

    def _wait(self, table: OrderedDict[str, _Count], key: str, allowance: int, now: float) -> float:
        count = table.get(key)
        if count is None or now - count.last >= FORGET_AFTER_S:
            return 0.0
        return max(0.0, count.last + lockout_seconds(count.failures - allowance) - now)

    def _count(self, table: OrderedDict[str, _Count], key: str, now: float) -> None:
        count = table.pop(key, None)
        failures = 0 if count is None or now - count.last >= FORGET_AFTER_S else count.failures
        table[key] = _Count(failures + 1, now)
        while len(table) > self.max_entries:
            table.popitem(last=False)
