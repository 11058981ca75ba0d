"""`countyctl send`: sign a command with the county key, publish it to one station, wait for the reply.

The reply topic is subscribed before the command is published, so a fast station cannot answer
into the void. Interim replies (config/set's `restarting`) are printed and the wait goes on for
the final one. Exit status: 0 when the station carried the command out, 1 when it refused or
failed it, 3 when no final reply came in time. Broker credentials come from files or the
environment and are never printed.
"""

from __future__ import annotations

import json
import queue
import ssl
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from county.keys import KeyFileError, load_signing_key
from foundation.errors import GatewayError
from foundation.mqtt_login import read_password, set_login
from wire.commands import COMMAND_NAMES, INTERIM_OUTCOMES
from wire.messages import PROTOCOL
from wire.signing import key_id, sign

EXIT_REFUSED = 1
EXIT_TIMEOUT = 3


class SendError(GatewayError, RuntimeError):
    """The command could not be sent (broker unreachable, refused, bad options)."""


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


# How a county command reaches the broker: the same options on every countyctl command that connects.
CA_OPTION = typer.Option(None, help="CA file: connect to the broker with TLS.")
CERT_OPTION = typer.Option(None, help="Client certificate (mutual TLS).")
CERT_KEY_OPTION = typer.Option(None, help="Client certificate's private key.")
USERNAME_OPTION = typer.Option(None, help="MQTT user name.")
PASSWORD_FILE_OPTION = typer.Option(None, help="File holding the MQTT password.")
PASSWORD_ENV_OPTION = typer.Option(None, help="Environment variable holding the MQTT password.")


def make_client(opts: BrokerOptions, client_id: str = "") -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"countyctl-{uuid.uuid4().hex[:12]}", protocol=mqtt.MQTTv311)
    set_login(c, opts.username, opts.password, opts.ca_file, opts.cert_file, opts.key_file)
    return c


def send_and_wait(opts: BrokerOptions, doc: dict[str, Any], timeout_s: float, on_reply: Any = None) -> list[dict[str, Any]]:
    """Publish a signed command and collect its replies until a final one or the timeout."""
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
        raise SendError(f"cannot reach the broker {opts.host}:{opts.port}: {exc}") from None
    client.loop_start()
    try:
        try:
            state = ready.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise SendError(f"no answer from the broker {opts.host}:{opts.port}") from None
        if state == -1:
            raise SendError("the broker refused the connection (check the credentials)")
        if state == -2:
            raise SendError(f"the broker refused the subscription to {reply_topic(station, cid)} (check the ACL)")
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


def parse_arg(item: str) -> tuple[str, Any]:
    """`key=value`: the value as JSON when it parses (numbers, true, objects), else as a string."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{item!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def send(
    station: str = typer.Argument(..., help="Station path COUNTY/TOWN/VILLAGE/STATION."),
    name: str = typer.Argument(..., help=f"Command: {', '.join(COMMAND_NAMES)}."),
    arg: list[str] = typer.Option([], "--arg", "-a", help="Argument KEY=VALUE (VALUE as JSON if it parses); repeatable."),
    args_json: str | None = typer.Option(None, "--args", help="All arguments as one JSON object (merged with --arg)."),
    key: Path = typer.Option(..., "--key", "-k", help="County private key (countyctl keygen)."),
    broker: str = typer.Option("127.0.0.1:1883", help="Broker HOST:PORT."),
    ca: Path | None = CA_OPTION,
    cert: Path | None = CERT_OPTION,
    cert_key: Path | None = CERT_KEY_OPTION,
    username: str | None = USERNAME_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    password_env: str | None = PASSWORD_ENV_OPTION,
    ttl: float = typer.Option(300.0, help="Seconds the command stays valid."),
    timeout: float = typer.Option(30.0, help="Seconds to wait for the final reply."),
    command_id: str | None = typer.Option(None, "--id", help="Command id (default: a random one)."),
) -> None:
    """Sign a command, send it to one station, print its replies (exit 0 done, 1 refused or failed, 3 no reply)."""
    if station.count("/") != 3:
        raise typer.BadParameter("the station is COUNTY/TOWN/VILLAGE/STATION", param_hint="STATION")
    if name not in COMMAND_NAMES:
        raise typer.BadParameter(f"unknown command {name!r}", param_hint="NAME")
    try:
        args: dict[str, Any] = json.loads(args_json) if args_json else {}
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--args") from None
    if not isinstance(args, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--args")
    args.update(parse_arg(a) for a in arg)
    host, _, port = broker.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(f"{broker!r} is not HOST:PORT", param_hint="--broker")
    opts = BrokerOptions(host, int(port), ca, cert, cert_key, username, password_file, password_env)
    try:
        signing_key = load_signing_key(key)
        doc = build_command(signing_key, station, name, args, time.time(), ttl, command_id)
        typer.echo(f"sent {name} {doc['id']} to {station}; waiting up to {timeout:g} s", err=True)
        replies = send_and_wait(opts, doc, timeout, on_reply=lambda r: typer.echo(json.dumps(r, ensure_ascii=False)))
    except (KeyFileError, SendError, OSError) as exc:
        typer.echo(f"send: {exc}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    if not replies or replies[-1].get("outcome") in INTERIM_OUTCOMES:
        typer.echo(f"send: no final reply from {station} within {timeout:g} s", err=True)
        raise typer.Exit(EXIT_TIMEOUT)
    final = replies[-1]
    if not final.get("ok"):
        typer.echo(f"send: {final.get('outcome')}: {final.get('reason')}", err=True)
        raise typer.Exit(EXIT_REFUSED)
