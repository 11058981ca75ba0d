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
from provisioning.i18n import Pair
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


def _hint(error: str, cfg: BrokerConfig) -> Pair:
    e = error.lower()
    where = f"{cfg.host}:{cfg.port}"
    if "refused" in e and "connection" in e:
        return (f"{where} 没有服务接受连接：检查 broker.host/port，确认 MQTT 服务器在运行",
                f"nothing accepts connections at {where}: check broker.host/port and that the broker runs")
    if "name or service" in e or "temporary failure in name resolution" in e or "nodename" in e:
        return (f"域名 {cfg.host!r} 解析不出来：检查 broker.host 和本站的 DNS",
                f"the name {cfg.host!r} does not resolve: check broker.host and the station's DNS")
    if "certificate" in e or "ssl" in e or "tls" in e:
        return ("TLS 连接失败：检查 broker.tls.ca_file（以及本站证书），并确认系统时间正确",
                "TLS failed: check broker.tls.ca_file (and the station certificate) and that the clock is right")
    if "not authorized" in e or "bad user" in e or "password" in e:
        return ("MQTT 服务器拒绝了用户名或密码：检查 broker.username 和密码文件",
                "the broker refused the credentials: check broker.username and the password file")
    if "timed out" in e or "timeout" in e:
        return (f"{where} 没有应答：检查网络（ping、SIM 卡流量、防火墙）",
                f"no answer from {where}: check the network link (ping, SIM data, firewall)")
    return (f"检查网络和 broker 设置（{where}）", f"check the network and the broker settings ({where})")


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
    say(target)
    try:
        client.connect(b.host, b.port, keepalive=max(10, b.keepalive_s))
    except (OSError, ssl.SSLError, ValueError) as exc:
        values["error"] = str(exc)
        return [CheckResult.of("broker", target, "fail", (f"连不上：{exc}", f"cannot connect: {exc}"), values, hint=_hint(str(exc), b))]
    client.loop_start()
    try:
        if not connected.wait(timeout) or "connected_at" not in state:
            connack = state.get("connack")
            why = connack or f"no CONNACK within {timeout:g} s (timed out)"
            values["error"] = why
            summary = (f"连接被拒绝：{connack}" if connack else f"{timeout:g} 秒内没有收到 CONNACK（超时）", f"connection refused: {why}")
            return [CheckResult.of("broker", target, "fail", summary, values, hint=_hint(why, b))]
        values["connect_ms"] = round((state["connected_at"] - started) * 1000, 1)
        if not subscribed.wait(timeout):
            prefix = topic.rsplit("/", 2)[0]
            return [CheckResult.of("broker", target, "fail", ("订阅测试主题没有收到 SUBACK", "no SUBACK for the test topic"), values,
                                   hint=(f"MQTT 服务器的权限（ACL）可能不允许本站的主题：请县平台放开 {prefix}/#",
                                         f"the broker's ACL may forbid this station's topics: ask the county to allow {prefix}/#"))]
        say(f"{target} ⇄")
        sent = time.monotonic()
        payload = json.dumps({"selftest": nonce, "station": cfg.station.path, "tool": "stationctl check"})
        client.publish(topic, payload, qos=1)
        if not received.wait(timeout):
            return [CheckResult.of("broker", target, "fail",
                                   (f"测试消息 {timeout:g} 秒内没有发回来", f"the test message did not come back within {timeout:g} s"), values,
                                   hint=("MQTT 服务器的权限（ACL）可能不允许本站发布或订阅自己的主题：请联系县平台",
                                         "the broker's ACL may forbid publishing or reading the station's topics: ask the county"))]
        values["round_trip_ms"] = round((state["received_at"] - sent) * 1000, 1)
    finally:
        client.disconnect()
        client.loop_stop()
    connect_ms, round_trip_ms = values["connect_ms"], values["round_trip_ms"]
    return [CheckResult.of("broker", target, "pass",
                           (f"已连接，用时 {connect_ms} ms，往返 {round_trip_ms} ms", f"connected in {connect_ms} ms, round trip {round_trip_ms} ms"),
                           values, duration_s=round(time.monotonic() - started, 2))]
