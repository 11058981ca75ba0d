"""The MQTT uplink: birth and Will, draining the outbox with QoS 1, receiving commands.

One thread owns the paho client and runs its network loop itself (`client.loop()`), so
publishing, PUBACK bookkeeping and reconnection happen in one place without locks around the
client. What to send and what a PUBACK means is the `Drain`'s (`gateway.uplink.drain`), the
client set-up, birth and goodbye the session's (`gateway.uplink.session`): the county
simulator drives the same two from its selector loop. Each connection gets a fresh paho
client, and everything not yet PUBACKed is republished from the outbox in `seq` order. The
county may therefore see a message twice (same `seq`, same payload), never a message lost.
"""

from __future__ import annotations

import collections
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from foundation.backoff import backoff_delay
from gateway.config.station import BrokerConfig
from gateway.uplink.drain import Drain
from gateway.uplink.outbox import Outbox, Queued
from gateway.uplink.session import Presence, StatusFactory, announce, fill_window, make_session_client, say_goodbye

log = logging.getLogger(__name__)

__all__ = ["CommandHandler", "StatusFactory", "Uplink", "UplinkStats"]

CommandHandler = Callable[[str, bytes], None]


@dataclass
class UplinkStats:
    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    published: int = 0
    pubacks: int = 0  # PUBACKs received from the broker
    acked: int = 0  # of those, removed from the outbox (deletes are batched)
    last_error: str = ""
    next_attempt_in_s: float = 0.0
    snapshots_sent: int = 0
    snapshots_dropped: int = 0


class Uplink:
    """Keeps one MQTT connection alive and drains the outbox through it."""

    # PUBACKed rows are deleted in batches: up to 200 at once while draining, at most every 0.5 s
    # otherwise. Each delete transaction costs ~16 KB of SD-card writes (RELIABILITY.md, 10), so
    # batching matters; a crash within the window only means identical redeliveries.
    ACK_FLUSH_COUNT = 200
    ACK_FLUSH_S = 0.5
    PREFETCH = 500
    DIRECT_MAX = 1000  # alarms held in memory when the outbox cannot store them (disk full)

    def __init__(
        self,
        cfg: BrokerConfig,
        client_id: str,
        status_topic: str,
        command_filter: str,
        outbox: Outbox,
        status: StatusFactory,
        on_command: CommandHandler | None = None,
        beat: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = cfg
        self.client_id = client_id
        self.status_topic = status_topic
        self.command_filter = command_filter
        self.outbox = outbox
        self.status = status
        self.on_command = on_command
        self._beat = beat or (lambda name: None)
        self._rng = rng or random.Random()
        self.stats = UplinkStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._connack: int | None = None
        self._connack_text = ""
        self._lost = False
        self._presence = Presence(client_id, status_topic, command_filter, status)
        self._drain = Drain(outbox, cfg.max_inflight, self.PREFETCH, self.DIRECT_MAX, self.ACK_FLUSH_COUNT, self.ACK_FLUSH_S)
        self._snapshots: collections.deque[tuple[str, bytes]] = collections.deque(maxlen=8)
        self._snap_lock = threading.Lock()
        self._wake = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="uplink", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def send_snapshot(self, topic: str, jpeg: bytes) -> None:
        """Best effort, QoS 1, held in memory (at most 8) while the link is down."""
        with self._snap_lock:
            if len(self._snapshots) == self._snapshots.maxlen:
                self.stats.snapshots_dropped += 1
            self._snapshots.append((topic, jpeg))

    def send_direct(self, msg: Queued) -> bool:
        """Deliver an alarm the outbox could not store: QoS 1 from memory, resent on every
        reconnection until PUBACKed, in seq order with the stored alarms. False when full."""
        return self._drain.hold_direct(msg)

    def direct_pending(self) -> int:
        return self._drain.direct_pending()

    def run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            self._beat("uplink")
            if self._connect():
                attempt = 0
                self._serve()
                self._teardown(goodbye=self._stop.is_set())
                if self._stop.is_set():
                    return
            delay = backoff_delay(attempt, self.cfg.backoff_initial_s, self.cfg.backoff_max_s, self._rng)
            attempt += 1
            self.stats.next_attempt_in_s = delay
            log.info("uplink: reconnecting in %.1f s (%s)", delay, self.stats.last_error)
            deadline = time.monotonic() + delay
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._beat("uplink")
                self._wake.wait(min(1.0, max(0.0, deadline - time.monotonic())))

    # ------------------------------------------------------------------ connection

    def _make_client(self) -> mqtt.Client:
        return make_session_client(self.cfg, self._presence, self._on_connect, self._on_disconnect, self._on_publish, self._on_message)

    def _connect(self) -> bool:
        self._connack = None
        self._lost = False
        try:
            client = self._make_client()
        except (OSError, ssl.SSLError, ValueError) as exc:  # the message names the file, never its content
            self.stats.last_error = f"cannot load the broker credentials or TLS files: {exc}"
            return False
        try:
            client.connect(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.stats.last_error = f"cannot reach {self.cfg.host}:{self.cfg.port}: {exc}"
            return False
        self._client = client
        deadline = time.monotonic() + self.cfg.connect_timeout_s
        while self._connack is None and not self._lost and time.monotonic() < deadline and not self._stop.is_set():
            client.loop(timeout=0.05)
        if self._connack != 0:
            reason = "no CONNACK in time" if self._connack is None else f"refused ({self._connack_text})"
            self.stats.last_error = f"{self.cfg.host}:{self.cfg.port}: {reason}"
            self._close_socket()
            return False
        announce(client, self._presence)
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.last_error = ""
        log.info("uplink: connected to %s:%s", self.cfg.host, self.cfg.port)
        return True

    def _teardown(self, goodbye: bool) -> None:
        self._flush_acks(force=True)
        client = self._client
        if client is not None and goodbye and not self._lost:
            try:
                info = say_goodbye(client, self._presence)
                deadline = time.monotonic() + 2.0
                while not info.is_published() and time.monotonic() < deadline and not self._lost:
                    client.loop(timeout=0.05)
                    self._flush_acks(force=True)
                client.disconnect()
                client.loop(timeout=0.1)
            except (OSError, RuntimeError, ValueError):
                pass
        self._close_socket()
        self.stats.connected = False
        self.stats.disconnects += 1
        self._drain.reset()

    def _close_socket(self) -> None:
        if self._client is not None:
            try:
                sock = self._client.socket()
                if sock is not None:
                    sock.close()
            except OSError:
                pass
        self._client = None

    # ------------------------------------------------------------------ serving

    def _serve(self) -> None:
        client = self._client
        assert client is not None
        while not self._stop.is_set() and not self._lost:
            self._beat("uplink")
            busy = self._fill()
            self._send_snapshots()
            rc = client.loop(timeout=0.0 if busy else 0.05)
            if rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN) and not self._lost:
                self._lost = True
                self.stats.last_error = f"connection lost ({mqtt.error_string(rc)})"
            self._flush_acks()

    def _fill(self) -> bool:
        """Publish until the in-flight window is full; True if anything was published."""
        client = self._client
        assert client is not None
        published, error = fill_window(client, self._drain)
        self.stats.published += published
        if error:
            self.stats.last_error = error
            self._lost = True
        return published > 0

    def _send_snapshots(self) -> None:
        client = self._client
        if client is None:
            return
        while True:
            with self._snap_lock:
                if not self._snapshots:
                    return
                topic, jpeg = self._snapshots.popleft()
            client.publish(topic, jpeg, qos=1)
            self.stats.snapshots_sent += 1

    def _flush_acks(self, force: bool = False) -> None:
        self.stats.acked += self._drain.flush_acks(time.monotonic(), force)

    # ------------------------------------------------------------------ paho callbacks (this thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self._connack = int(reason_code.value) if hasattr(reason_code, "value") else int(reason_code)
        # paho 2 maps a 3.1.1 return code to its MQTT 5 reason (5 -> 135 "Not authorized"): name it from the reason itself
        self._connack_text = str(reason_code) if hasattr(reason_code, "value") else mqtt.connack_string(self._connack)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self._lost = True
        if not self.stats.last_error:
            self.stats.last_error = f"disconnected ({reason_code})"

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # noqa: ANN001
        if self._drain.puback(mid):
            self.stats.pubacks += 1

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        if self.on_command is None:
            return
        try:
            self.on_command(message.topic, bytes(message.payload))
        except Exception:  # a bad command must never take the uplink down
            log.exception("uplink: command handler failed on %s", message.topic)
