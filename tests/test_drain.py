"""The drain policy the station's Uplink and the county simulator share: send order, the
in-flight window, rows deleted only after PUBACK, everything unacknowledged resent in seq order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.uplink.drain import Drain
from gateway.uplink.outbox import ALARM, TELEMETRY, Outbox, Queued


def body(seq: int) -> bytes:
    return f'{{"seq": {seq}}}'.encode()


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    b = Outbox(tmp_path / "o.db")
    yield b
    b.close()


def send_all(drain: Drain, first_mid: int = 1) -> dict[int, Queued]:
    """What a client would publish now, by mid (the window decides how much)."""
    sent: dict[int, Queued] = {}
    mid = first_mid
    while drain.has_room() and (msg := drain.next()) is not None:
        drain.sent(mid, msg)
        sent[mid] = msg
        mid += 1
    return sent


def test_alarms_go_ahead_of_telemetry_within_the_window(box: Outbox) -> None:
    for _ in range(3):
        box.put("t/telemetry", TELEMETRY, body)
    for _ in range(2):
        box.put("t/event", ALARM, body)
    drain = Drain(box, max_inflight=4)
    sent = send_all(drain)
    assert [m.seq for m in sent.values()] == [3, 4, 0, 1]  # both alarms first, then telemetry up to the window
    assert not drain.has_room()
    assert drain.puback(1) and not drain.puback(99)  # 99: the birth or a snapshot, not ours
    assert [m.seq for m in send_all(drain, 10).values()] == [2]


def test_rows_leave_the_outbox_only_after_puback_and_in_batches(box: Outbox) -> None:
    for _ in range(5):
        box.put("t/telemetry", TELEMETRY, body)
    drain = Drain(box, max_inflight=10, ack_flush_count=3, ack_flush_s=0.5)
    send_all(drain)
    assert drain.flush_acks(0.0) == 0 and box.stats().depth == 5  # nothing PUBACKed yet
    drain.puback(1)
    assert drain.flush_acks(100.0) == 1 and box.stats().depth == 4  # first ack after a quiet spell: at once
    drain.puback(2)
    assert drain.flush_acks(100.1) == 0 and box.stats().depth == 4  # held: too soon, too few
    drain.puback(3)
    drain.puback(4)
    assert drain.flush_acks(100.2) == 3 and box.stats().depth == 1  # three wait: one delete for all
    drain.puback(5)
    assert drain.flush_acks(100.3, force=True) == 1 and box.stats().depth == 0


def test_after_a_lost_connection_everything_unacknowledged_goes_again_in_seq_order(box: Outbox) -> None:
    for klass in (TELEMETRY, ALARM, TELEMETRY, ALARM, TELEMETRY):
        box.put("t", klass, body)
    drain = Drain(box, max_inflight=10)
    first = send_all(drain)
    assert [m.seq for m in first.values()] == [1, 3, 0, 2, 4]
    drain.puback(1)  # seq 1 arrived
    drain.puback(3)  # seq 0 arrived
    drain.flush_acks(0.0, force=True)  # the connection is gone before the other PUBACKs: both drivers flush, then reset
    drain.reset()
    assert drain.in_flight() == 0
    again = send_all(drain, 100)
    assert [m.seq for m in again.values()] == [3, 2, 4]
    assert [m.payload for m in again.values()] == [body(3), body(2), body(4)]  # same payload: a duplicate, never a loss


def test_alarms_the_outbox_could_not_store_go_in_seq_order_until_pubacked(box: Outbox) -> None:
    box.put("t/event", ALARM, body)  # seq 0
    held = Queued(box.allocate_unstored(), ALARM, "t/event", body(1), False)
    box.put("t/event", ALARM, body)  # seq 2
    drain = Drain(box, max_inflight=10, direct_max=1)
    assert drain.hold_direct(held)
    assert not drain.hold_direct(Queued(99, ALARM, "t/event", b"", False))  # full: the caller must say so
    sent = send_all(drain)
    assert [m.seq for m in sent.values()] == [0, 1, 2]
    drain.reset()  # lost before any PUBACK: the held alarm goes again too
    again = send_all(drain, 10)
    assert [m.seq for m in again.values()] == [0, 1, 2]
    assert drain.puback(11) and drain.direct_pending() == 0  # PUBACKed: forgotten, not acked in the outbox
    drain.reset()
    assert [m.seq for m in send_all(drain, 20).values()] == [0, 2]
