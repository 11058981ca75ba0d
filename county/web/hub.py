"""The web view's one MQTT connection: it feeds the board and carries the operators' commands.

The connection is a plain (clean) session: the board is rebuilt from the ingest database when
the server starts, and the retained statuses arrive again at every subscription, so nothing
needs the broker to remember this client. What stations sent while this client was away (an
alarm step in the seconds before it resubscribed) is in the ingest's database, whose session is
persistent: after a reconnection the web layer reads the alarms back from there (`on_reconnect`). paho's network thread applies each message to the
board under a lock and hands what changed to `on_changes` (the browsers' fan-out). Commands are
published QoS 1; while the broker is away `publish` says so at once instead of letting paho
queue a command that the operator believes was sent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from paho.mqtt.client import MQTT_ERR_SUCCESS

from county.send import BrokerOptions, command_topic, make_client
from county.topics import station_filter
from county.web.board import Board, Change
from foundation.errors import GatewayError

log = logging.getLogger(__name__)

CHANNELS = ("status", "event/+", "reply/+", "health", "telemetry/+")


class BrokerAway(GatewayError, ConnectionError):
    """The broker cannot take a command right now."""


class LiveHub:
    """Subscribes under the board's prefix; `publish_command` sends a signed command document."""

    def __init__(self, board: Board, lock: threading.Lock, opts: BrokerOptions,
                 on_changes: Callable[[list[Change]], None], on_reply: Callable[[dict[str, Any]], None] | None = None,
                 on_reconnect: Callable[[], None] | None = None) -> None:
        self.board, self.lock, self.opts = board, lock, opts
        self.on_changes, self.on_reply, self.on_reconnect = on_changes, on_reply, on_reconnect
        self.connects = 0
        self.connected = threading.Event()
        self.client = make_client(opts, client_id=f"county-web-{uuid.uuid4().hex[:10]}")
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.5, 10)

    def start(self) -> "LiveHub":
        self.client.connect_async(self.opts.host, self.opts.port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.error("web: the broker refused the connection: %s", reason_code)
            return
        client.subscribe([(station_filter(self.board.prefix, c), 1) for c in CHANNELS])
        self.connected.set()
        self.connects += 1
        if self.on_reconnect is not None:  # the first connection too: an alarm stored between the seed and the
            self.on_reconnect()             # subscription would otherwise stay off the board until it changed
        log.info("web: connected to %s:%s", self.opts.host, self.opts.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.connected.clear()

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        try:
            with self.lock:
                changes = self.board.handle(message.topic, bytes(message.payload), bool(message.retain), time.time())
        except Exception:  # noqa: BLE001 - one strange message must not stop paho's thread (and the live view with it)
            log.exception("web: a message on %s could not be applied", message.topic)
            return
        if not changes:
            return
        if self.on_reply is not None and "/reply/" in message.topic:
            try:
                self.on_reply(json.loads(message.payload))
            except Exception:  # noqa: BLE001 - the audit log must not stop the live feed
                log.exception("web: recording a reply failed")
        self.on_changes(changes)

    def publish_command(self, doc: dict[str, Any]) -> None:
        """Publish one signed command (QoS 1); BrokerAway when it cannot go out now."""
        if not self.connected.is_set():
            raise BrokerAway(f"the broker {self.opts.host}:{self.opts.port} is not reachable; nothing was sent")
        info = self.client.publish(command_topic(doc["station"], doc["name"]),
                                   json.dumps(doc, ensure_ascii=False, separators=(",", ":")), qos=1)
        if info.rc != MQTT_ERR_SUCCESS:
            raise BrokerAway(f"the broker connection dropped while sending (code {info.rc}); nothing was sent")
