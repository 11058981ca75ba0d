"""`countyctl send`: sign a command with the county key, publish it to one station, wait for the reply.

The command line only; building, signing and sending are `county.send`'s. Interim replies
(config/set's `restarting`) are printed and the wait goes on for the final one. Exit status: 0
when the station carried the command out, 1 when it refused or failed it, 3 when no final reply
came in time. Broker credentials come from files or the environment and are never printed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from county.broker_cli import CA_OPTION, CERT_KEY_OPTION, CERT_OPTION, PASSWORD_ENV_OPTION, PASSWORD_FILE_OPTION, USERNAME_OPTION
from county.keys import KeyFileError, load_signing_key
from county.send import BrokerOptions, SendError, build_command, send_and_wait
from wire.commands import COMMAND_NAMES, INTERIM_OUTCOMES

EXIT_REFUSED = 1
EXIT_TIMEOUT = 3


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
