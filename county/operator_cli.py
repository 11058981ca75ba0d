"""`countyctl operator`: the web view's operator accounts (add, passwd, disable, enable, list) and its audit log. Chinese unless --lang en.

Account changes are written to the audit log as done by `cli:<login user>`, next to what the
operators did. Passwords come from a hidden prompt asked twice, or `--password-stdin`; never echoed.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from county.i18n import LANG_OPTION, Pair, language, pick

app = typer.Typer(help="Operator accounts of the web view, and its audit log.", no_args_is_help=True)
DB_OPTION = typer.Option("sqlite:///county.db", help="sqlite:///FILE or postgresql://USER@HOST:PORT/DB.")
PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="Read the password from the first line of stdin instead of prompting.")
OPERATOR: Pair = ("账号：", "operator: ")


def _password(from_stdin: bool, lang: str) -> str:
    """From stdin (for scripts) or a hidden prompt asked twice; never echoed."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    while True:
        first = str(typer.prompt(pick(lang, ("密码", "Password")), hide_input=True))
        if first == str(typer.prompt(pick(lang, ("再输入一次密码", "Repeat for confirmation")), hide_input=True)):
            return first
        typer.echo(pick(lang, ("两次输入的密码不一致，请重新输入", "Error: The two entered values do not match.")), err=True)


def _accounts(db: str, lang: str, action: Any, audit: tuple[str, str] | None = None) -> Any:
    """Run `action(accounts)` on the database; an AccountError becomes a one-line message in `lang` and exit 2.

    `audit` (what, account) is written to the audit log as done by `cli:<login user>`, so account
    changes are on record next to what the operators did.
    """
    from county.accounts import AccountError, Accounts
    from county.store import Store

    store = Store(db)
    try:
        accounts = Accounts(store)
        result = action(accounts)
        if audit is not None:
            accounts.log(f"cli:{getpass.getuser()}", audit[0], "", time.time(), {"account": audit[1]})
        return result
    except AccountError as exc:
        typer.echo(pick(lang, OPERATOR) + exc.text(lang), err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()


def _scope_text(scope: str, lang: str) -> str:
    return scope or pick(lang, ("全县", "whole county"))


@app.command("add")
def operator_add(
    name: str = typer.Argument(..., help="Login name (no spaces)."),
    scope: str = typer.Option("", help="What the operator sees: COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]] ('': everything)."),
    display_name: str = typer.Option("", help="Name shown on pages and in acknowledgements (default: NAME)."),
    password_stdin: bool = PASSWORD_STDIN,
    db: str = DB_OPTION,
    lang: str | None = LANG_OPTION,
) -> None:
    """Create an operator account."""
    lg = language(lang)
    password = _password(password_stdin, lg)
    op = _accounts(db, lg, lambda accounts: accounts.add(name, password, scope, display_name), ("operator_add", name))
    typer.echo(pick(lg, (f"已添加账号 {op.name}（{op.display_name}），范围：{_scope_text(op.scope, lg)}",
                         f"added operator {op.name} ({op.display_name}), scope: {_scope_text(op.scope, lg)}")))


@app.command("passwd")
def operator_passwd(name: str = typer.Argument(...), password_stdin: bool = PASSWORD_STDIN, db: str = DB_OPTION,
                    lang: str | None = LANG_OPTION) -> None:
    """Set an operator's password (also lifts a lock-out)."""
    lg = language(lang)
    password = _password(password_stdin, lg)
    _accounts(db, lg, lambda accounts: accounts.set_password(name, password), ("operator_passwd", name))
    typer.echo(pick(lg, (f"已修改 {name} 的密码（如曾被锁定，也已解锁）", f"password of {name} changed")))


def _set_enabled(name: str, enabled: bool, db: str, lang: str | None) -> None:
    lg = language(lang)
    _accounts(db, lg, lambda accounts: accounts.set_enabled(name, enabled), ("operator_enable" if enabled else "operator_disable", name))
    typer.echo(pick(lg, (f"账号 {name} 已{'启用' if enabled else '停用'}", f"operator {name} {'enabled' if enabled else 'disabled'}")))


@app.command("disable")
def operator_disable(name: str = typer.Argument(...), db: str = DB_OPTION, lang: str | None = LANG_OPTION) -> None:
    """Refuse an operator's logins (the account and its audit entries stay)."""
    _set_enabled(name, False, db, lang)


@app.command("enable")
def operator_enable(name: str = typer.Argument(...), db: str = DB_OPTION, lang: str | None = LANG_OPTION) -> None:
    """Allow a disabled operator to log in again."""
    _set_enabled(name, True, db, lang)


@app.command("list")
def operator_list(db: str = DB_OPTION, lang: str | None = LANG_OPTION) -> None:
    """Every operator: name, display name, scope, enabled."""
    lg = language(lang)
    table = Table(*pick(lg, (("账号", "显示名", "范围", "启用"), ("name", "display name", "scope", "enabled"))))  # type: ignore[arg-type]
    for op, enabled in _accounts(db, lg, lambda accounts: accounts.list()):
        table.add_row(escape(op.name), escape(op.display_name), escape(_scope_text(op.scope, lg)),
                      pick(lg, ("是", "yes")) if enabled else pick(lg, ("[red]否[/]", "[red]no[/]")))
    Console(highlight=False).print(table)


@app.command("audit")
def operator_audit(
    scope: str = typer.Option("", help="Only entries about COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]] ('': all)."),
    limit: int = typer.Option(200, help="At most this many entries, newest first."),
    db: str = DB_OPTION,
    tz: str = typer.Option("Asia/Shanghai", help="Time zone the times are written in (the county's, as on its pages)."),
    lang: str | None = LANG_OPTION,
) -> None:
    """The audit log: who did what to which station, and how it ended (actions and outcomes in words unless --lang en)."""
    from county.web.audit_view import ACTIONS, OUTCOMES  # the audit page's words
    from county.wording import REPLY_OUTCOMES, label

    lg = language(lang)
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        typer.echo(pick(lg, OPERATOR) + pick(lg, (f"没有 {tz!r} 这个时区（例如 Asia/Shanghai）", f"unknown time zone {tz!r} (e.g. Asia/Shanghai)")),
                   err=True)
        raise typer.Exit(2) from None
    table = Table(*pick(lg, (("时间", "操作人", "操作", "对象", "指令编号", "结果", "详情"),
                             ("time", "operator", "action", "target", "command", "outcome", "detail"))))  # type: ignore[arg-type]
    for column in table.columns[1:]:
        column.overflow = "fold"  # a narrow terminal breaks names and paths over lines rather than cutting them
    outcomes = {**REPLY_OUTCOMES, **OUTCOMES}
    for e in _accounts(db, lg, lambda accounts: accounts.audit(scope, limit)):
        when = datetime.fromtimestamp(e.at, zone).strftime("%Y-%m-%d %H:%M:%S")
        action = e.action if lg == "en" else label(ACTIONS, e.action, lg)  # English: the action's name, as stored
        outcome = e.outcome if lg == "en" or not e.outcome else label(outcomes, e.outcome, lg)
        table.add_row(when, escape(e.operator), escape(action), escape(e.target), escape(e.command_id or ""), escape(outcome),
                      escape(json.dumps(e.detail, ensure_ascii=False)) if e.detail else "")
    Console(highlight=False).print(table)
