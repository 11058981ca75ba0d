"""A station's MQTT session on one paho client: set-up with the Will, birth, goodbye, and the
in-flight window filled from a `Drain`.

Shared by the station's `Uplink` (which drives its client with `loop()` on its own thread) and
the county simulator's fleet (which drives hundreds with `loop_read`/`loop_write` from one
selector), so both say the same things in the same order. Each connection gets a fresh client:
paho's own retry queue goes with the old one, and the `Drain` resends what was not PUBACKed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from gateway.config.station import BrokerConfig
from gateway.uplink.drain import Drain
from gateway.uplink.mqtt_client import make_client

StatusFactory = Callable[[bool, str], bytes]
Callback = Callable[..., Any]

# paho's own window is a little wider than the drain's, so paho never holds back a message the
# drain counts as in flight (the birth, the goodbye and snapshots are not counted by the drain)
PAHO_SLACK = 16


@dataclass(frozen=True)
class Presence:
    """Who a station is on the broker: client id, retained status topic (birth, Will, goodbye), the commands it takes."""

    client_id: str
    status_topic: str
    command_filter: str
    status: StatusFactory  # (online, reason) -> the retained status payload


def make_session_client(cfg: BrokerConfig, who: Presence, on_connect: Callback, on_disconnect: Callback,
                        on_publish: Callback, on_message: Callback) -> mqtt.Client:
    """A fresh client with the login/TLS of `cfg`, the Will (offline, "connection lost", retained,
    QoS 1), no paho queue limit and the given paho (VERSION2) callbacks; raises OSError/ssl.SSLError on bad files."""
    c = make_client(cfg, who.client_id)
    c.will_set(who.status_topic, who.status(False, "connection lost"), qos=1, retain=True)
    c.max_inflight_messages_set(cfg.max_inflight + PAHO_SLACK)
    c.max_queued_messages_set(0)
    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.on_publish = on_publish
    c.on_message = on_message
    return c


def announce(client: mqtt.Client, who: Presence) -> None:
    """After CONNACK: the retained birth message, then the command subscription."""
    client.publish(who.status_topic, who.status(True, ""), qos=1, retain=True)
    client.subscribe(who.command_filter, qos=1)


def say_goodbye(client: mqtt.Client, who: Presence) -> mqtt.MQTTMessageInfo:
    """The clean-stop status (retained, replaces the birth); wait for its PUBACK before disconnecting."""
    return client.publish(who.status_topic, who.status(False, "shutdown"), qos=1, retain=True)


def fill_window(client: mqtt.Client, drain: Drain) -> tuple[int, str]:
    """Publish from the drain until its window is full: (how many were published, an error text
    when the client refused one, else ""). A message published while paho has no connection
    counts as in flight: the lost connection resets the drain and it goes out again."""
    published = 0
    while drain.has_room():
        msg = drain.next()
        if msg is None:
            break
        info = client.publish(msg.topic, msg.payload, qos=1, retain=msg.retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            return published, f"publish failed: {mqtt.error_string(info.rc)}"
        drain.sent(info.mid, msg)
        published += 1
    return published, ""
