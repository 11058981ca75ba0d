"""`countyctl ingest`: store everything stations send, exactly once per (station, seq).

Delivery to the county is at-least-once end to end: the broker gives a message to this process
and forgets it only after our PUBACK, and we send that PUBACK (paho `manual_ack`) only after the
row is committed. A crash between the two means a redelivery, which the store's key absorbs; a
crash never means a loss. The session is persistent (MQTT v5, clean_start False, a session
expiry), so while an ingest process restarts the broker keeps queueing for it.

Several processes share the load through an MQTT v5 shared subscription
(`$share/{group}/vs/v1/...`): the broker hands each telemetry and health message to one member.
Events (alarms, notices, loudspeaker reports), alarm snapshots, replies and statuses are few and
matter most, so every member subscribes to them directly and the store's key absorbs the copies:
they never depend on the broker remembering a shared subscription. That matters because mosquitto
2.0.11 restores a persistent session's plain subscriptions after a broker restart but not its shared
ones (measured, see docs/scaling.md): telemetry published between the broker's return and the
member's resubscription would find no shared subscriber. `group=""` subscribes to everything
directly (one member, or hot standbys that each store everything once).

A snapshot is the one payload that is not JSON: the raw JPEG a station publishes once per alarm
on `snapshot/{event_id}` (the alarm's `snapshot` field carries its size and sha256). It is kept
as evidence for operators, keyed by (station, event_id); anything on that channel that is not a
JPEG of at most 2 MiB is a reject like any other bad payload.

Hostile or broken payloads never stop the stream (issue 14): a payload larger than a station
ever sends is cut to its first 16 KiB (with its size and sha256) the moment it arrives and stored
as a reject; NaN, Infinity, integers beyond 64 bits and text the database cannot hold are refused
at parse time; and a batch the database still refuses is split until each message is either
stored or, after a few attempts while the database answers, stored as a reject. Only an outage of
the database itself holds messages back, unacknowledged, until it returns.

Parsing and its limits: county.payloads; the capped form of rejects: county.limits.

Threads: paho's network thread only queues what arrives; one writer thread validates, stores a
batch per transaction and then acknowledges it in arrival order (MQTT requires PUBACKs in order).
Messages of an earlier connection are never acknowledged on a later one (their packet ids mean
nothing there): the broker resends them and the store drops the copies.
"""

from __future__ import annotations

import logging
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from county.i18n import pick
from county.limits import REJECT_KEEP_BYTES, Capped
from county.payloads import SNAPSHOT_MAX_BYTES as SNAPSHOT_MAX_BYTES  # where tests and tools have found it
from county.payloads import arrival_limit, binary_reject, capped_reject, parse
from county.store import Incoming, Reject, SnapshotIncoming, Store, WriteResult
from county.topics import station_filter
from foundation.redact import redact

if TYPE_CHECKING:
    from county.cases.config import LoopConfig

log = logging.getLogger(__name__)

SHARED_CHANNELS = ("telemetry/+", "health")  # the bulk: split between members
DIRECT_CHANNELS = ("event/+", "snapshot/+", "reply/+", "status")  # few and precious: every member, copies absorbed by the store

WRITE_ATTEMPTS = 3  # of one message the database refuses while it answers: then the message is a reject


def default_client_id() -> str:
    """Stable across restarts (the persistent session hangs on it); give each instance on a host its own."""
    return f"county-ingest-{socket.gethostname()}"


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    statuses: int = 0
    snapshots: int = 0
    batches: int = 0
    acked: int = 0
    connects: int = 0
    write_errors: int = 0
    unstorable: int = 0  # messages that validated but the database refused: stored as rejects
    hook_errors: int = 0  # failures of `on_stored` (the case loop): logged and counted, the stream goes on
    last_error: str = ""
    session_present: bool = False


@dataclass(frozen=True, slots=True)
class _Arrival:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_at: float
    whole: Capped | None = None  # set when `payload` is only the head of a payload too big to keep


class Ingest:
    """One ingest member: a persistent MQTT v5 session feeding a Store."""

    def __init__(
        self,
        store: Store,
        host: str,
        port: int,
        prefix: str = "vs/v1",
        client_id: str | None = None,
        group: str = "ingest",
        session_expiry_s: int = 86400,
        batch_max: int = 500,
        receive_max: int = 2000,
        keepalive_s: int = 30,
        on_stored: Callable[[list[Incoming | SnapshotIncoming | Reject]], None] | None = None,
    ) -> None:
        """`on_stored(items)`: called in the writer thread after each batch is committed and acknowledged (the
        closed loop's hook, `county.cases.loop.CaseLoop.offer`); whatever it raises is counted, never stops the stream."""
        self.store = store
        self.on_stored = on_stored
        self.host, self.port = host, port
        self.prefix = prefix
        self.client_id = client_id or default_client_id()
        self.group = group
        self.session_expiry_s = session_expiry_s
        self.batch_max = batch_max
        self.receive_max = receive_max
        self.keepalive_s = keepalive_s
        self.stats = IngestStats()
        self.connected = threading.Event()
        self._queue: queue.Queue[_Arrival] = queue.Queue()
        self._generation = 0
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._writer: threading.Thread | None = None
        self.client = self._make_client()

    def filters(self) -> list[tuple[str, SubscribeOptions]]:
        """Shared filters for the bulk, direct ones for events, replies and statuses (retained statuses seed `stations`)."""
        share = f"$share/{self.group}/" if self.group else ""
        shared = [(share + station_filter(self.prefix, c), SubscribeOptions(qos=1)) for c in SHARED_CHANNELS]
        return [*shared, *((station_filter(self.prefix, c), SubscribeOptions(qos=1)) for c in DIRECT_CHANNELS)]

    def _make_client(self) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.reconnect_delay_set(0.2, 2)  # back quickly after a broker restart: see the module docstring
        return c

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "Ingest":
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._writer.start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = self.receive_max
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive_s, clean_start=False, properties=props)
        self.client.loop_start()
        return self

    def stop(self, drain_s: float = 5.0) -> None:
        """Store and acknowledge what has arrived, then leave (the session stays, so the broker keeps queueing)."""
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and not (self._queue.empty() and self._idle.is_set()):
            time.sleep(0.02)
        self.client.disconnect()
        self.client.loop_stop()
        self._stop.set()
        if self._writer is not None:
            self._writer.join(10)

    def wait_idle(self, quiet_s: float = 0.5, timeout: float = 30.0) -> bool:
        """True once nothing has arrived or been written for `quiet_s` (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        last = (-1, -1)
        since = time.monotonic()
        while time.monotonic() < deadline:
            now = (self.stats.received, self.stats.acked)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s and self._queue.empty() and self._idle.is_set():
                return True
            time.sleep(0.05)
        return False

    # ------------------------------------------------------------------ paho callbacks (network thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            self.stats.last_error = f"connection refused: {reason_code}"
            return
        self.stats.connects += 1
        self.stats.session_present = bool(flags.session_present)
        client.subscribe(self.filters())
        self.connected.set()
        log.info("ingest %s: connected to %s:%s (session present: %s)", self.client_id, self.host, self.port, flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self._generation += 1  # packet ids of the old connection must not be acknowledged on the next one
        self.connected.clear()

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        self.stats.received += 1
        payload, whole = message.payload, None
        if len(payload) > arrival_limit(message.topic):  # keep only its head: a flood of huge payloads must not fill memory
            whole = Capped.of(payload, REJECT_KEEP_BYTES)
            payload = whole.head
        self._queue.put(_Arrival(message.topic, bytes(payload), message.mid, message.qos, self._generation, time.time(), whole))

    # ------------------------------------------------------------------ writer thread

    def _take_batch(self) -> list[_Arrival]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self.batch_max:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            self._idle.set()
            batch = self._take_batch()
            if not batch:
                continue
            self._idle.clear()
            self._store(batch)

    def _store(self, batch: list[_Arrival]) -> None:
        parsed = [parse(a.topic, a.payload, a.received_at, a.whole) for a in batch]
        results = self._write_all(parsed)
        if results is None:  # stopping: nothing of this batch is acknowledged; the broker redelivers it
            return
        self.stats.batches += 1
        for result in results:
            self.stats.stored += result.inserted
            self.stats.duplicates += result.duplicates
            self.stats.statuses += result.statuses
            self.stats.snapshots += result.snapshots
            self.stats.rejected += result.rejects
        generation = self._generation
        for a in batch:
            if a.qos > 0 and a.generation == generation:
                self.client.ack(a.mid, a.qos)
                self.stats.acked += 1
        self._hand_over(parsed)

    def _hand_over(self, stored: list[Incoming | SnapshotIncoming | Reject]) -> None:
        if self.on_stored is None:
            return
        try:
            self.on_stored(stored)
        except Exception as exc:  # noqa: BLE001 - the hook's trouble is never the ingest's
            self.stats.hook_errors += 1
            log.error("ingest: on_stored hook failed: %s: %s", type(exc).__name__, exc)

    def _write_all(self, items: list[Incoming | SnapshotIncoming | Reject]) -> list[WriteResult] | None:
        """Store every item, as stored messages or rejects; None when stopping first.

        One transaction for the lot; when the database refuses it while it answers, the batch is
        split in halves until the message it refuses is alone (a few transactions per bad message)."""
        try:
            return [self._write(items)]
        except Exception as exc:  # noqa: BLE001 - the database's refusal, whatever its driver calls it
            self._note(exc)
        if not self._wait_for_database():
            return None
        if len(items) == 1:
            return self._write_one(items[0])
        half = len(items) // 2
        first = self._write_all(items[:half])
        rest = self._write_all(items[half:]) if first is not None else None
        return None if first is None or rest is None else first + rest

    def _write_one(self, item: Incoming | SnapshotIncoming | Reject) -> list[WriteResult] | None:
        """A message the database refused: a few more attempts (it may have been a passing error), then it is a reject."""
        attempt = 1
        while True:
            attempt += 1
            if self._stop.wait(min(2.0, 0.1 * 2 ** attempt)) or not self._wait_for_database():
                return None
            if attempt > WRITE_ATTEMPTS:
                break
            try:
                return [self._write([item])]
            except Exception as exc:  # noqa: BLE001
                self._note(exc)
        self.stats.unstorable += 1
        reject = self._as_reject(item, f"the database refused it: {self.stats.last_error}"[:500])
        while True:  # should the database refuse even this, the bare reject (no payload) follows: a database fault, not the message's
            try:
                return [self._write([reject])]
            except Exception as exc:  # noqa: BLE001
                self._note(exc)
            reject = Reject(reject.topic, reject.error, "", reject.received_at, reject.size, reject.sha256)
            if self._stop.wait(1.0) or not self._wait_for_database():
                return None

    def _as_reject(self, item: Incoming | SnapshotIncoming | Reject, error: str) -> Reject:
        if isinstance(item, Reject):
            return Reject(item.topic, f"{error} ({item.error})"[:500], item.payload, item.received_at, item.size, item.sha256)
        if isinstance(item, SnapshotIncoming):
            return binary_reject(item.topic, error, Capped(item.jpeg[:32], len(item.jpeg), item.sha256), item.received_at)
        return capped_reject(item.topic, error, item.payload.encode("utf-8", errors="replace"), item.received_at)

    def _write(self, items: list[Incoming | SnapshotIncoming | Reject]) -> WriteResult:
        good = [p for p in items if not isinstance(p, Reject)]
        return self.store.write(good, [p for p in items if isinstance(p, Reject)])

    def _wait_for_database(self) -> bool:
        """Until an empty transaction commits (the database answers): False when stopping first. An outage holds every
        message back, unacknowledged; it never turns a good message into a reject."""
        attempt = 0
        while True:
            try:
                if self.store.reconnect_if_broken():
                    log.warning("ingest: the database connection was lost; connected again")
                self.store.write([], ())
                return True
            except Exception as exc:  # noqa: BLE001
                self._note(exc)
            attempt += 1
            if self._stop.wait(min(5.0, 0.1 * 2 ** attempt)):
                return False

    def _note(self, exc: Exception) -> None:
        self.stats.write_errors += 1
        self.stats.last_error = f"store: {type(exc).__name__}: {exc}"[:500]
        log.error("ingest: %s", self.stats.last_error)

def run(db: str, host: str, port: int, prefix: str, client_id: str | None, group: str, session_expiry_s: int,
        seconds: float, report_every_s: float, echo: Callable[[str], None], cases: LoopConfig | None = None, lang: str = "en") -> IngestStats:
    """The `countyctl ingest` process: runs until `seconds` pass, Ctrl-C or SIGTERM; reports now and then (in `lang`).

    `cases`: a `county.cases.config.LoopConfig` to run the closed loop (cases, escalation, notifications) beside it."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    store = Store(db)
    loop = None
    if cases is not None:
        from county.cases.loop import CaseLoop

        loop = CaseLoop(db, cases).start()
    ingest = Ingest(store, host, port, prefix, client_id=client_id, group=group, session_expiry_s=session_expiry_s,
                    on_stored=loop.offer if loop is not None else None).start()
    shown = redact(db)  # a PostgreSQL URL carries its password
    echo(pick(lang, (f"入库 {ingest.client_id}：从 {host}:{port} 接收 {prefix}，写入 {shown}（{f'共享组 {group}' if group else '不共享'}）",
                     f"ingest {ingest.client_id}: {prefix} from {host}:{port} into {shown} (shared group {group!r})")))
    t0 = time.monotonic()
    try:
        while not stop.wait(min(report_every_s, seconds or report_every_s)):
            if seconds and time.monotonic() - t0 >= seconds:
                break
            echo(_line(ingest.stats, lang))
            if loop is not None:
                echo(loop.line(lang))
    finally:
        ingest.stop()
        if loop is not None:
            loop.stop()
        store.close()
    echo(_line(ingest.stats, lang))
    return ingest.stats


def _line(s: IngestStats, lang: str = "en") -> str:
    if lang != "en":
        return (f"已接收 {s.received}，已存 {s.stored}，快照 {s.snapshots}，重复 {s.duplicates}，状态 {s.statuses}，拒收 {s.rejected}，"
                f"批次 {s.batches}" + (f"，钩子出错 {s.hook_errors}" if s.hook_errors else "") + (f"，最近错误：{s.last_error}" if s.last_error else ""))
    return (f"received {s.received}, stored {s.stored}, snapshots {s.snapshots}, duplicates {s.duplicates}, statuses {s.statuses}, "
            f"rejected {s.rejected}, batches {s.batches}" + (f", hook errors {s.hook_errors}" if s.hook_errors else "")
            + (f", last error: {s.last_error}" if s.last_error else ""))
