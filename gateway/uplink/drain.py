"""What goes out next from the outbox, and what a PUBACK or a lost connection means for it.

The drain policy, without a client, a thread or a clock of its own, so that the station's
`Uplink` (one thread per station) and the county simulator's selector fleet (hundreds of
stations on one loop) send the same way: queued alarms, stored or held in memory
(`hold_direct`), ahead of queued telemetry, each in seq order; at most `max_inflight` QoS 1
messages awaiting PUBACK; an outbox row deleted only after its PUBACK, in batches; after a lost
connection everything not PUBACKed goes out again from the outbox in seq order. The county may
therefore see a message twice (same seq, same payload), never a message lost.
"""

from __future__ import annotations

import collections
import logging
import threading

from foundation.errors import OutboxError
from gateway.uplink.outbox import ALARM, TELEMETRY, Outbox, Queued

log = logging.getLogger(__name__)


class Drain:
    """One station's send order, in-flight window and PUBACK bookkeeping (owned by one thread;
    only `hold_direct` and `direct_pending` may be called from others)."""

    def __init__(self, outbox: Outbox, max_inflight: int, prefetch: int = 500, direct_max: int = 1000,
                 ack_flush_count: int = 200, ack_flush_s: float = 0.5) -> None:
        self.outbox = outbox
        self.max_inflight = max_inflight
        self.prefetch = prefetch
        self.direct_max = direct_max
        self.ack_flush_count = ack_flush_count
        self.ack_flush_s = ack_flush_s
        self._inflight: dict[int, int] = {}  # paho mid -> seq
        self._queues: dict[int, collections.deque[Queued]] = {ALARM: collections.deque(), TELEMETRY: collections.deque()}
        self._cursor = {ALARM: -1, TELEMETRY: -1}
        self._seen_version = {ALARM: -1, TELEMETRY: -1}
        self._acked: list[int] = []
        self._last_flush = float("-inf")
        self._direct: dict[int, Queued] = {}  # unstored alarms by seq, until PUBACKed
        self._direct_lock = threading.Lock()
        self._direct_cursor = -1

    # ------------------------------------------------------------------ alarms the outbox could not store

    def hold_direct(self, msg: Queued) -> bool:
        """Keep an alarm the outbox could not store in memory, sent with the stored alarms in seq
        order and again after every reconnection until PUBACKed. False when `direct_max` are held."""
        with self._direct_lock:
            if len(self._direct) >= self.direct_max:
                return False
            self._direct[msg.seq] = msg
        return True

    def direct_pending(self) -> int:
        return len(self._direct)

    # ------------------------------------------------------------------ sending

    def has_room(self) -> bool:
        return len(self._inflight) < self.max_inflight

    def in_flight(self) -> int:
        return len(self._inflight)

    def next(self) -> Queued | None:
        """Next message to send: queued alarms go ahead of queued telemetry."""
        for klass in (ALARM, TELEMETRY):
            # an unstored alarm is looked at before the outbox: any stored alarm with a lower seq
            # was stored (and its version bumped) before it was allocated, so the peek sees it
            direct = self._peek_direct() if klass == ALARM else None
            q = self._queues[klass]
            version = self.outbox.versions[klass]
            if not q and version != self._seen_version[klass]:
                self._seen_version[klass] = version
                q.extend(self.outbox.peek(klass, self._cursor[klass], self.prefetch))
                if len(q) == self.prefetch:
                    self._seen_version[klass] = -1  # more may be waiting
            if direct is not None and (not q or direct.seq < q[0].seq):
                self._direct_cursor = direct.seq
                return direct
            if q:
                return q.popleft()
        return None

    def _peek_direct(self) -> Queued | None:
        if not self._direct:
            return None
        with self._direct_lock:
            return next((m for seq, m in self._direct.items() if seq > self._direct_cursor), None)

    def sent(self, mid: int, msg: Queued) -> None:
        """`msg` was handed to the client as message `mid`: it counts against the window until its PUBACK."""
        self._inflight[mid] = msg.seq
        if msg.seq not in self._direct:
            self._cursor[msg.klass] = msg.seq

    # ------------------------------------------------------------------ acknowledging

    def puback(self, mid: int) -> bool:
        """The broker has message `mid`; False when it was not one of ours (birth, goodbye, snapshot)."""
        seq = self._inflight.pop(mid, None)
        if seq is None:
            return False
        if seq in self._direct:
            with self._direct_lock:
                self._direct.pop(seq, None)
        else:
            self._acked.append(seq)
        return True

    def flush_acks(self, now: float, force: bool = False) -> int:
        """Delete PUBACKed rows when `ack_flush_count` wait or `ack_flush_s` have passed since the last
        delete (or `force`): each delete costs SD-card writes, a crash in between only duplicates.
        Returns how many were handed to the outbox."""
        if not self._acked:
            return 0
        if not (force or len(self._acked) >= self.ack_flush_count or now - self._last_flush >= self.ack_flush_s):
            return 0
        batch, self._acked = self._acked, []
        try:
            self.outbox.ack(batch)
        except OutboxError as exc:  # they stay in the outbox and go out again: a duplicate, never a loss
            log.error("uplink: %s", exc)
        self._last_flush = now
        return len(batch)

    def reset(self) -> None:
        """The connection is gone: nothing is in flight any more, everything not PUBACKed goes out
        again from the outbox (and the held alarms) in seq order on the next connection."""
        self._inflight.clear()
        for q in self._queues.values():
            q.clear()
        self._cursor = {ALARM: -1, TELEMETRY: -1}
        self._seen_version = {ALARM: -1, TELEMETRY: -1}
        self._direct_cursor = -1
