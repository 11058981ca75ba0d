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

Threads: paho's network thread only queues what arrives; one writer thread validates, stores a
batch per transaction and then acknowledges it in arrival order (MQTT requires PUBACKs in order).
Messages of an earlier connection are never acknowledged on a later one (their packet ids mean
nothing there): the broker resends them and the store drops the copies.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from pydantic import ValidationError

from county.store import Incoming, Reject, SnapshotIncoming, Store
from county.topics import TopicParts, parse_topic, station_filter
from wire.messages import WIRE_MODELS

log = logging.getLogger(__name__)

SHARED_CHANNELS = ("telemetry/+", "health")  # the bulk: split between members
DIRECT_CHANNELS = ("event/+", "snapshot/+", "reply/+", "status")  # few and precious: every member, copies absorbed by the store

SNAPSHOT_MAX_BYTES = 2 * 1024 * 1024  # a station's evidence JPEG is tens of kB; more is a mistake or abuse
JPEG_MAGIC = b"\xff\xd8\xff"  # SOI marker followed by the first segment's marker
_EVENT_ID = re.compile(r"[\w.:-]{1,128}", re.ASCII)  # uuid hex in practice; nothing that could not be a key


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


def parse(topic: str, payload: bytes, received_at: float) -> Incoming | SnapshotIncoming | Reject:
    """Validate one payload against its wire model (a snapshot: see `parse_snapshot`); anything else becomes a Reject with the reason."""
    parts = parse_topic(topic)
    if parts is not None and parts.channel == "snapshot":
        return parse_snapshot(topic, parts, payload, received_at)
    text = payload.decode("utf-8", errors="replace").replace("\x00", "\ufffd")  # garbage may hold NULs; PostgreSQL TEXT cannot
    try:
        doc = json.loads(payload)
        # Valid JSON may still hold U+0000, which PostgreSQL TEXT and JSONB refuse: the whole batch would fail and be retried
        # forever. In UTF-8 JSON a NUL can only come from the escape \u0000 (a raw NUL byte is not valid JSON; UTF-16/32 JSON
        # has NUL bytes), so a payload with neither is clean without a look. Otherwise the escape may be an escaped backslash
        # (\\u0000, a legitimate string): every string of the decoded document, keys included, decides (a stack, any depth).
        if b"\\u0000" in payload or b"\x00" in payload:
            pending = [doc]
            while pending:
                item = pending.pop()
                if isinstance(item, str):
                    if "\x00" in item:
                        return Reject(topic, "contains a NUL character (U+0000), which the database cannot store", text, received_at)
                elif isinstance(item, dict):
                    pending.extend(item)
                    pending.extend(item.values())
                elif isinstance(item, list):
                    pending.extend(item)
        model = WIRE_MODELS[doc["kind"]]
        message = model.model_validate(doc)
    except (ValueError, KeyError, TypeError, RecursionError, ValidationError) as exc:  # RecursionError: '[' nested 100,000 deep
        return Reject(topic, f"{type(exc).__name__}: {exc}"[:500], text, received_at)
    if parts is None or parts.station != message.station:
        return Reject(topic, f"station {message.station!r} does not match the topic", text, received_at)
    return Incoming(topic, message, text, received_at)


def parse_snapshot(topic: str, parts: TopicParts, payload: bytes, received_at: float) -> SnapshotIncoming | Reject:
    """Raw JPEG bytes, not JSON: checked for the event id, size and magic bytes, and hashed to match the alarm's SnapshotRef."""
    if not _EVENT_ID.fullmatch(parts.rest):
        error = f"snapshot: bad event id {parts.rest[:80]!r} in the topic"
    elif len(payload) > SNAPSHOT_MAX_BYTES:
        error = f"snapshot: too big, {len(payload)} bytes (at most {SNAPSHOT_MAX_BYTES})"
    elif not payload.startswith(JPEG_MAGIC):
        error = "snapshot: not a JPEG (it does not start with FF D8 FF)"
    else:
        return SnapshotIncoming(topic, parts.station, parts.rest, payload, hashlib.sha256(payload).hexdigest(), received_at)
    # binary, maybe megabytes: keep a description for a human (PostgreSQL TEXT cannot hold NUL bytes anyway)
    return Reject(topic, error, f"{len(payload)} bytes, starting {payload[:32].hex(' ')}", received_at)


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
    ) -> None:
        self.store = store
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
        self._queue.put(_Arrival(message.topic, bytes(message.payload), message.mid, message.qos, self._generation, time.time()))

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
        parsed = [parse(a.topic, a.payload, a.received_at) for a in batch]
        good = [p for p in parsed if not isinstance(p, Reject)]
        bad = [p for p in parsed if isinstance(p, Reject)]
        attempt = 0
        while True:
            try:
                result = self.store.write(good, bad)
                break
            except Exception as exc:  # noqa: BLE001 - a database outage: keep the batch, retry, never ack unstored rows
                self.stats.write_errors += 1
                self.stats.last_error = f"store: {type(exc).__name__}: {exc}"
                log.error("ingest: %s (retrying)", self.stats.last_error)
                attempt += 1
                if self._stop.wait(min(5.0, 0.1 * 2 ** attempt)):
                    return
        self.stats.batches += 1
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


def run(db: str, host: str, port: int, prefix: str, client_id: str | None, group: str, session_expiry_s: int,
        seconds: float, report_every_s: float, echo: Callable[[str], None]) -> IngestStats:
    """The `countyctl ingest` process: runs until `seconds` pass, Ctrl-C or SIGTERM; reports now and then."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    store = Store(db)
    ingest = Ingest(store, host, port, prefix, client_id=client_id, group=group, session_expiry_s=session_expiry_s).start()
    echo(f"ingest {ingest.client_id}: {prefix} from {host}:{port} into {db} (shared group {group!r})")
    t0 = time.monotonic()
    try:
        while not stop.wait(min(report_every_s, seconds or report_every_s)):
            if seconds and time.monotonic() - t0 >= seconds:
                break
            echo(_line(ingest.stats))
    finally:
        ingest.stop()
        store.close()
    echo(_line(ingest.stats))
    return ingest.stats


def _line(s: IngestStats) -> str:
    return (f"received {s.received}, stored {s.stored}, snapshots {s.snapshots}, duplicates {s.duplicates}, statuses {s.statuses}, "
            f"rejected {s.rejected}, batches {s.batches}" + (f", last error: {s.last_error}" if s.last_error else ""))
