"""The county broker: connect as the station would, publish to a test topic under the station's
prefix, and time the round trip until the broker hands the message back."""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from gateway.config.station import BrokerConfig, StationConfig
from gateway.uplink.mqtt_client import make_client
from provisioning.probes import Say, quiet
from provisioning.results import CheckResult
from wire.messages import Topics


def selftest_topic(cfg: StationConfig, nonce: str) -> str:
    ident = cfg.station
    return f"{Topics(ident.county, ident.town, ident.village, ident.id).prefix}/selftest/{nonce}"


def _client(cfg: BrokerConfig, client_id: str) -> mqtt.Client:
    """A client set up like the gateway's (credentials, TLS), under its own client id so it never
    kicks a running gateway off the broker."""
    return make_client(cfg, client_id)


def _hint(error: str, cfg: BrokerConfig) -> str:
    e = error.lower()
    where = f"{cfg.host}:{cfg.port}"
    if "refused" in e and "connection" in e:
        return f"nothing accepts connections at {where}: check broker.host/port and that the broker runs"
    if "name or service" in e or "temporary failure in name resolution" in e or "nodename" in e:
        return f"the name {cfg.host!r} does not resolve: check broker.host and the station's DNS"
    if "certificate" in e or "ssl" in e or "tls" in e:
        return "TLS failed: check broker.tls.ca_file (and the station certificate) and that the clock is right"
    if "not authorized" in e or "bad user" in e or "password" in e:
        return "the broker refused the credentials: check broker.username and the password file"
    if "timed out" in e or "timeout" in e:
        return f"no answer from {where}: check the network link (ping, SIM data, firewall)"
    return f"check the network and the broker settings ({where})"


def probe_broker(cfg: StationConfig, timeout_s: float | None = None, say: Say = quiet) -> list[CheckResult]:
    b = cfg.broker
    target = f"{b.host}:{b.port}"
    timeout = timeout_s or max(5.0, b.connect_timeout_s)
    nonce = uuid.uuid4().hex[:12]
    topic = selftest_topic(cfg, nonce)
    values: dict[str, Any] = {"host": b.host, "port": b.port, "tls": b.tls is not None, "topic": topic}
    connected, subscribed, received = threading.Event(), threading.Event(), threading.Event()
    state: dict[str, Any] = {}

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        state["connack"] = str(reason)
        if not reason.is_failure:
            state["connected_at"] = time.monotonic()
            connected.set()
            client.subscribe(topic, qos=1)
        else:
            connected.set()

    def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        subscribed.set()

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == topic:
            state["received_at"] = time.monotonic()
            received.set()

    client = _client(b, f"stationctl-{cfg.station.id}-{nonce[:6]}")
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    started = time.monotonic()
    say(f"broker {target}: connecting")
    try:
        client.connect(b.host, b.port, keepalive=max(10, b.keepalive_s))
    except (OSError, ssl.SSLError, ValueError) as exc:
        values["error"] = str(exc)
        return [CheckResult("broker", target, "fail", f"cannot connect: {exc}", values, hint=_hint(str(exc), b))]
    client.loop_start()
    try:
        if not connected.wait(timeout) or "connected_at" not in state:
            why = state.get("connack", f"no CONNACK within {timeout:g} s (timed out)")
            values["error"] = why
            return [CheckResult("broker", target, "fail", f"connection refused: {why}", values, hint=_hint(why, b))]
        values["connect_ms"] = round((state["connected_at"] - started) * 1000, 1)
        if not subscribed.wait(timeout):
            return [CheckResult("broker", target, "fail", "no SUBACK for the test topic", values,
                                hint="the broker's ACL may forbid this station's topics: ask the county to allow "
                                f"{topic.rsplit('/', 2)[0]}/#")]
        say(f"broker {target}: round trip")
        sent = time.monotonic()
        payload = json.dumps({"selftest": nonce, "station": cfg.station.path, "tool": "stationctl check"})
        client.publish(topic, payload, qos=1)
        if not received.wait(timeout):
            return [CheckResult("broker", target, "fail", f"the test message did not come back within {timeout:g} s", values,
                                hint="the broker's ACL may forbid publishing or reading the station's topics: ask the county")]
        values["round_trip_ms"] = round((state["received_at"] - sent) * 1000, 1)
    finally:
        client.disconnect()
        client.loop_stop()
    return [CheckResult("broker", target, "pass",
                        f"connected in {values['connect_ms']} ms, round trip {values['round_trip_ms']} ms", values,
                        duration_s=round(time.monotonic() - started, 2))]
