"""`countyctl send`: sign a command with the county key, publish it to one station, wait for the reply.

The command line only; building, signing and sending are `county.send`'s. Interim replies
(config/set's `restarting`) are printed and the wait goes on for the final one. Exit status: 0
when the station carried the command out, 1 when it refused or failed it, 3 when no final reply
came in time. Broker credentials come from files or the environment and are never printed.
Each reply goes to stdout as one JSON line (for scripts); what a person reads (what was sent,
each reply in words, errors and next steps) goes to stderr, Chinese unless --lang en.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from county.broker_cli import CA_OPTION, CERT_KEY_OPTION, CERT_OPTION, PASSWORD_ENV_OPTION, PASSWORD_FILE_OPTION, USERNAME_OPTION
from county.i18n import LANG_OPTION, Pair, language, pick
from county.keys import KeyFileError, load_signing_key
from county.send import BrokerOptions, SendError, build_command, send_and_wait
from county.wording import COMMANDS, REPLY_OUTCOMES, label
from wire.commands import COMMAND_NAMES, INTERIM_OUTCOMES

EXIT_REFUSED = 1
EXIT_TIMEOUT = 3
EXIT_USAGE = 2  # what click gives a bad parameter
PREFIX: Pair = ("发送：", "send: ")
# next steps for a station's refusal codes (`result.code` of a rejected reply) a county person can act on
NEXT: dict[str, Pair] = {
    "unknown_key": ("站点不认这把县级密钥，请在站点上用 stationctl keys county 安装它的公钥，或换用站点已有的密钥（--key）",
                    "the station does not trust this key; install its public key there (stationctl keys county), or use a key it has (--key)"),
    "no_keys": ("站点还没有安装县级公钥，请在站点上运行 stationctl keys county", "the station has no county keys; run stationctl keys county there"),
    "not_yet_valid": ("县里和站点的时钟不一致，请检查两边的时间", "the county's and the station's clocks disagree; check both"),
    "expired": ("指令已过期，请检查两边的时钟，或加大 --ttl", "the command had expired; check both clocks, or give a longer --ttl"),
    "stale": ("指令早于站点重新开始记录的时间，请重新发送", "the command is older than the station's replay record; send it again"),
    "too_long_lived": ("有效期超过站点允许的上限，请减小 --ttl", "valid for longer than the station allows; give a shorter --ttl"),
    "bad_arguments": ("参数不对，请检查 --arg / --args", "the arguments are wrong; check --arg / --args"),
}


def _usage(lang: str, zh: str, en: str) -> typer.Exit:
    typer.echo(pick(lang, PREFIX) + pick(lang, (zh, en)), err=True)
    return typer.Exit(EXIT_USAGE)


def parse_arg(item: str, lang: str = "en") -> tuple[str, Any]:
    """`key=value`: the value as JSON when it parses (numbers, true, objects), else as a string."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise _usage(lang, f"--arg {item!r} 应写成 KEY=VALUE", f"--arg {item!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def reply_line(station: str, reply: dict[str, Any], lang: str) -> str:
    """A reply in words: who answered, what became of the command, and why."""
    outcome = str(reply.get("outcome") or "")
    said = label(REPLY_OUTCOMES, outcome, lang)
    reason = str(reply.get("reason") or "")
    if lang == "en":
        text = f"{station} replied: {said}" + (f" ({reason})" if reason else "")
        return text + ("; waiting for the final reply" if outcome in INTERIM_OUTCOMES else "")
    text = f"{station} 回复：{said}" + (f"（{reason}）" if reason else "")
    return text + ("，继续等待最终回复" if outcome in INTERIM_OUTCOMES else "")


def _args(arg: list[str], args_json: str | None, lang: str) -> dict[str, Any]:
    try:
        args: dict[str, Any] = json.loads(args_json) if args_json else {}
    except ValueError as exc:
        raise _usage(lang, f"--args 不是 JSON：{exc}", f"--args is not JSON: {exc}") from None
    if not isinstance(args, dict):
        raise _usage(lang, "--args 必须是 JSON 对象（{...}）", "--args must be a JSON object")
    args.update(parse_arg(a, lang) for a in arg)
    return args


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
    lang: str | None = LANG_OPTION,
) -> None:
    """Sign a command, send it to one station, print its replies (exit 0 done, 1 refused or failed, 3 no reply; Chinese unless --lang en)."""
    lg = language(lang)
    if station.count("/") != 3:
        raise _usage(lg, f"站点 {station!r} 应写成 县/乡镇/村/站点（COUNTY/TOWN/VILLAGE/STATION）",
                     f"the station {station!r} is not COUNTY/TOWN/VILLAGE/STATION")
    if name not in COMMAND_NAMES:
        raise _usage(lg, f"没有 {name!r} 这个指令（可用：{', '.join(COMMAND_NAMES)}）", f"unknown command {name!r} (one of: {', '.join(COMMAND_NAMES)})")
    args = _args(arg, args_json, lg)
    host, _, port = broker.rpartition(":")
    if not host or not port.isdigit():
        raise _usage(lg, f"--broker {broker!r} 应写成 HOST:PORT", f"--broker {broker!r} is not HOST:PORT")
    opts = BrokerOptions(host, int(port), ca, cert, cert_key, username, password_file, password_env)

    def on_reply(reply: dict[str, Any]) -> None:
        typer.echo(json.dumps(reply, ensure_ascii=False))
        typer.echo(reply_line(station, reply, lg), err=True)

    try:
        signing_key = load_signing_key(key)
        doc = build_command(signing_key, station, name, args, time.time(), ttl, command_id)
        words = label(COMMANDS, name, "zh")
        typer.echo(pick(lg, (f"已向 {station} 发送{words}指令（{name}，编号 {doc['id']}），最多等待 {timeout:g} 秒回复",
                             f"sent {name} {doc['id']} to {station}; waiting up to {timeout:g} s")), err=True)
        replies = send_and_wait(opts, doc, timeout, on_reply=on_reply)
    except (KeyFileError, SendError) as exc:
        typer.echo(pick(lg, PREFIX) + exc.text(lg), err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except OSError as exc:  # a password file that cannot be read, a TLS file missing
        typer.echo(pick(lg, PREFIX) + str(exc), err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    if not replies or replies[-1].get("outcome") in INTERIM_OUTCOMES:
        typer.echo(pick(lg, (f"发送：{timeout:g} 秒内没有收到 {station} 的最终回复（站点可能离线，用 countyctl watch 查看）",
                             f"send: no final reply from {station} within {timeout:g} s (the station may be offline: see countyctl watch)")), err=True)
        raise typer.Exit(EXIT_TIMEOUT)
    final = replies[-1]
    if not final.get("ok"):
        result = final.get("result")
        code = str(result.get("code") or "") if isinstance(result, dict) else ""
        said = label(REPLY_OUTCOMES, str(final.get("outcome") or ""), lg)
        typer.echo(pick(lg, (f"发送：{station} 未执行该指令（{said}）", f"send: {final.get('outcome')}: {final.get('reason')}")), err=True)
        if code in NEXT:
            typer.echo(pick(lg, ("下一步：", "next: ")) + pick(lg, NEXT[code]), err=True)
        raise typer.Exit(EXIT_REFUSED)
