"""`countyctl people`: the people directory (add, list, disable, enable, import a CSV roster). Chinese unless --lang en."""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from county.i18n import Refused, language, pick

T = TypeVar("T")
app = typer.Typer(help="People directory: who answers for which village, township or county (cases are dispatched to them).",
                  no_args_is_help=True)
DB = typer.Option("sqlite:///county.db", help="sqlite:///FILE or postgresql://USER@HOST:PORT/DB.")
LANG = typer.Option(None, "--lang", help="zh (default) or en; default from LANG.")


def with_people(db: str, lang: str, action: Callable[[Any], T], audit: tuple[str, str, dict[str, Any]] | None = None) -> T:
    """Run `action(people)`; a refusal becomes one line in the chosen language and exit 2. `audit`: (action, target, detail)."""
    from county.accounts import AccountError, Accounts
    from county.cases.db import LoopDb
    from county.people import People

    loop_db = LoopDb(db)
    try:
        result = action(People(loop_db))
        if audit is not None:
            Accounts(loop_db.store, guard=loop_db.call).log(f"cli:{getpass.getuser()}", audit[0], audit[1], time.time(), audit[2])
        return result
    except (Refused, AccountError) as exc:  # AccountError: a malformed --scope
        typer.echo(pick(lang, ("人员：", "people: ")) + exc.text(lang), err=True)
        raise typer.Exit(2) from None
    finally:
        loop_db.close()


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Name (姓名)."),
    phone: str = typer.Argument(..., help="Phone number, the person's key (电话)."),
    role: str = typer.Option(..., help="grid_worker 网格员 | village_cadre 村干部 | town_duty 乡镇值班 | county_duty 县值班长."),
    scope: str = typer.Option(..., help="What they answer for: COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]]."),
    account: str = typer.Option("", help="Linked web account (countyctl operator add), if they use the web pages."),
    email: str = typer.Option("", help="E-mail address for notifications."),
    db: str = DB,
    lang: str | None = LANG,
) -> None:
    """Add a person to the directory."""
    from county.people import check_person

    lg = language(lang)
    try:
        person = check_person(name, phone, role, scope, account, email)
    except Refused as exc:
        typer.echo(pick(lg, ("人员：", "people: ")) + exc.text(lg), err=True)
        raise typer.Exit(2) from None
    with_people(db, lg, lambda p: p.add(person, time.time()), ("people_add", person.scope, {"phone": person.phone, "name": person.name}))
    typer.echo(pick(lg, (f"已添加 {person.name}（{person.role_text('zh')}），范围 {person.scope}",
                         f"added {person.name} ({person.role_text('en')}), scope {person.scope}")))


@app.command("list")
def list_people(
    scope: str = typer.Option("", help="Only people under COUNTY\\[/TOWN\\[/VILLAGE]] ('': all)."),
    db: str = DB,
    lang: str | None = LANG,
) -> None:
    """Every person: role, name, phone, scope, web account, e-mail, enabled."""
    from county.accounts import normalise_scope

    lg = language(lang)
    people = with_people(db, lg, lambda p: p.list(normalise_scope(scope)))
    table = Table(*pick(lg, (("角色", "姓名", "电话", "范围", "网页账号", "邮箱", "启用"),
                             ("role", "name", "phone", "scope", "account", "e-mail", "enabled"))))  # type: ignore[arg-type]
    for column in table.columns:
        column.overflow = "fold"  # a narrow terminal breaks long paths over lines rather than cutting them
    for p in people:
        table.add_row(p.role_text(lg), escape(p.name), escape(p.phone), escape(p.scope), escape(p.account or ""), escape(p.email or ""),
                      pick(lg, ("是", "yes")) if p.enabled else pick(lg, ("[red]否[/]", "[red]no[/]")))
    Console(highlight=False).print(table)


def _set_enabled(phone: str, enabled: bool, db: str, lang: str | None) -> None:
    lg = language(lang)
    with_people(db, lg, lambda p: p.set_enabled(phone, enabled, time.time()), ("people_enable" if enabled else "people_disable", "",
                                                                                {"phone": phone}))
    typer.echo(pick(lg, (f"{phone} 已{'启用' if enabled else '停用'}", f"{phone} {'enabled' if enabled else 'disabled'}")))


@app.command("disable")
def disable(phone: str = typer.Argument(..., help="Phone of the person."), db: str = DB, lang: str | None = LANG) -> None:
    """Stop dispatching to a person (the record and their past cases stay)."""
    _set_enabled(phone, False, db, lang)


@app.command("enable")
def enable(phone: str = typer.Argument(..., help="Phone of the person."), db: str = DB, lang: str | None = LANG) -> None:
    """Dispatch to a disabled person again."""
    _set_enabled(phone, True, db, lang)


@app.command("import")
def import_csv(
    file: Path = typer.Argument(..., help="CSV with a header: name,phone,role,scope[,account,email] (or 姓名,电话,角色,范围[,账号,邮箱])."),
    db: str = DB,
    lang: str | None = LANG,
) -> None:
    """Add or update people from a CSV roster (keyed by phone); all rows or none."""
    from county.people import decode

    lg = language(lang)
    try:
        text = decode(file.read_bytes())
    except OSError as exc:
        typer.echo(pick(lg, (f"人员：无法读取 {file}：{exc.strerror}", f"people: cannot read {file}: {exc.strerror}")), err=True)
        raise typer.Exit(2) from None
    count = with_people(db, lg, lambda p: p.import_csv(text, time.time()), ("people_import", "", {"file": str(file)}))
    typer.echo(pick(lg, (f"已导入 {count} 人", f"imported {count} people")))
