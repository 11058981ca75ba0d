"""Sending a command to a station: sign it with the county key, publish it, wait for the reply.

A library for `countyctl send` (its command line is `county.send_cli`) and the county web
desk. The reply topic is subscribed before the command is published, so a fast station cannot
answer into the void; interim replies (config/set's `restarting`) are handed on and the wait
goes on for the final one. Broker credentials come from files or the environment and are
never printed.
"""

from __future__ import annotations

import json
import queue
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from county.i18n import EnglishFirst
from foundation.mqtt_login import read_password, set_login
from wire.commands import INTERIM_OUTCOMES
from wire.messages import PROTOCOL
from wire.signing import key_id, sign


class SendError(EnglishFirst, RuntimeError):
    """The command could not be sent (broker unreachable, refused, bad options); `str()` is the English text, for logs."""


def build_command(
    key: Ed25519PrivateKey, station: str, name: str, args: dict[str, Any], now: float, ttl_s: float, command_id: str | None = None
) -> dict[str, Any]:
    """A signed command document, valid from `now` for `ttl_s` seconds."""
    issued = int(now)
    doc: dict[str, Any] = {
        "v": 1, "id": command_id or uuid.uuid4().hex, "station": station, "name": name,
        "issued_at": issued, "expires_at": issued + max(1, int(ttl_s)), "key_id": key_id(key.public_key()), "args": args,
    }
    doc["sig"] = sign(key, doc)
    return doc


def command_topic(station: str, name: str) -> str:
    return f"{PROTOCOL}/{station}/cmd/{name}"


def reply_topic(station: str, command_id: str) -> str:
    return f"{PROTOCOL}/{station}/reply/{command_id}"


@dataclass(frozen=True)
class BrokerOptions:
    """How the county tool reaches the broker; the password is read from a file or the environment."""

    host: str = "127.0.0.1"
    port: int = 1883
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None

    def password(self) -> str | None:
        return read_password(self.password_file, self.password_env)


def make_client(opts: BrokerOptions, client_id: str = "") -> mqtt.Client:
    """A county client (MQTT 3.1.1) with the options' login and TLS; a random `countyctl-` id unless given."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"countyctl-{uuid.uuid4().hex[:12]}", protocol=mqtt.MQTTv311)
    set_login(c, opts.username, opts.password, opts.ca_file, opts.cert_file, opts.key_file)
    return c


def send_and_wait(opts: BrokerOptions, doc: dict[str, Any], timeout_s: float,
                  on_reply: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Publish a signed command and collect its replies until a final one or the timeout (raises SendError)."""
    station, name, cid = doc["station"], doc["name"], doc["id"]
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    ready: queue.Queue[int] = queue.Queue()
    client = make_client(opts)

    def on_connect(client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            ready.put(-1)
            return
        client.subscribe(reply_topic(station, cid), qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:  # noqa: ANN001
        ready.put(0 if all(not rc.is_failure for rc in reason_codes) else -2)

    def on_message(client, userdata, message) -> None:  # noqa: ANN001
        try:
            replies.put(json.loads(message.payload))
        except ValueError:
            pass

    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    deadline = time.monotonic() + timeout_s
    try:
        client.connect(opts.host, opts.port, keepalive=30)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise SendError(f"cannot reach the broker {opts.host}:{opts.port}: {exc}",
                        f"无法连接消息服务器 {opts.host}:{opts.port}：{exc}") from None
    client.loop_start()
    try:
        try:
            state = ready.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise SendError(f"no answer from the broker {opts.host}:{opts.port}", f"消息服务器 {opts.host}:{opts.port} 没有应答") from None
        if state == -1:
            raise SendError("the broker refused the connection (check the credentials)", "消息服务器拒绝连接（请检查用户名、密码或证书）")
        if state == -2:
            raise SendError(f"the broker refused the subscription to {reply_topic(station, cid)} (check the ACL)",
                            f"消息服务器不允许订阅 {reply_topic(station, cid)}（请检查访问控制 ACL）")
        info = client.publish(command_topic(station, name), json.dumps(doc, ensure_ascii=False, separators=(",", ":")), qos=1)
        info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        got: list[dict[str, Any]] = []
        while True:
            try:
                reply = replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return got
            got.append(reply)
            if on_reply is not None:
                on_reply(reply)
            if reply.get("outcome") not in INTERIM_OUTCOMES:
                return got
    finally:
        client.disconnect()
        client.loop_stop()
