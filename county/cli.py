"""`countyctl`: the county center's reference tool."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from county.cases.cli import app as cases_app
from county.feed import FeedCollector, FeedLine, FeedSubscriber
from county.keys import keygen
from county.people_cli import app as people_app
from county.send_cli import send
from county.sl651.cli import app as sl651_app
from county.update.cli import update
from county.web.serve import serve

app = typer.Typer(help="County command center tools: watch stations, send commands.", no_args_is_help=True)
app.command()(keygen)
app.command()(send)
app.command()(serve)
app.command()(update)


@app.command()
def feed(
    prefix: str = typer.Argument("vs/v1", help="Topic prefix: vs/v1/COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]]."),
    broker: str = typer.Option("127.0.0.1:1883", help="Broker HOST:PORT."),
    seconds: float = typer.Option(0, help="Stop after this long (0: until Ctrl-C)."),
    lang: str | None = typer.Option(None, "--lang", help="Language: zh (default) or en; default from LANG."),
) -> None:
    """Print every message under a prefix as a readable line (Chinese unless --lang en)."""
    from county.i18n import language

    console = Console(highlight=False)
    host, _, port = broker.rpartition(":")

    def show(line: FeedLine) -> None:
        console.print(f"{line.station} #{line.seq if line.seq is not None else '-'} [{line.style or 'default'}]{escape(line.text)}[/]")

    sub = FeedSubscriber(host, int(port), prefix, FeedCollector(on_line=show, lang=language(lang))).start()
    try:
        deadline = time.monotonic() + seconds if seconds else float("inf")
        while time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sub.stop()


@app.command()
def demo(
    config: str = typer.Option("examples/sim-station.yaml", help="Station config to run."),
    duration: float = typer.Option(60.0, help="Seconds before the summary."),
    lang: str | None = typer.Option(None, "--lang", help="Language: zh (default) or en; default from LANG."),
) -> None:
    """Run the simulated station against a private broker and show the county feed (Chinese unless --lang en)."""
    from pathlib import Path

    from county.sim.demo import main

    main(config=Path(config), duration=duration, outage_at=duration * 0.37, outage_s=6.0, lang=lang)


@app.command()
def contract(
    out: Path | None = typer.Option(None, help="Write here (YAML for .yaml/.yml, else JSON) instead of stdout."),
    server: str = typer.Option("county-broker:1883", help="Broker HOST:PORT named in the document."),
) -> None:
    """Write the AsyncAPI 3.0 document of every topic and payload (schemas generated from the wire models)."""
    from county.contract import main

    text = main(out, server)
    if out is None:
        typer.echo(text, nl=False)


@app.command()
def watch(
    prefix: str = typer.Argument("vs/v1", help="County, township, village or station: vs/v1/COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]]."),
    broker: str = typer.Option("127.0.0.1:1883", help="Broker HOST:PORT."),
    once: bool = typer.Option(False, "--once", help="Listen for --seconds (default 1), print the table once and exit."),
    seconds: float = typer.Option(0, help="Stop after this long (0: until Ctrl-C)."),
    db: str | None = typer.Option(None, help="Ingest database to start from (shows alarms raised before the watch began)."),
    lang: str | None = typer.Option(None, "--lang", help="Language: zh (default) or en; default from LANG."),
) -> None:
    """A live table of stations: online/offline, last seen, active alarms, queue depth, camera fps (Chinese unless --lang en)."""
    from county.i18n import language
    from county.topics import parse_broker
    from county.watch import watch as run_watch

    host, port = parse_broker(broker)
    run_watch(prefix, host, port, once, seconds, Console(), db, language(lang))


@app.command()
def ingest(
    prefix: str = typer.Argument("vs/v1", help="What to store: vs/v1/COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]]."),
    db: str = typer.Option("sqlite:///county.db", help="sqlite:///FILE or postgresql://USER@HOST:PORT/DB."),
    broker: str = typer.Option("127.0.0.1:1883", help="Broker HOST:PORT."),
    client_id: str | None = typer.Option(None, help="Stable MQTT client id of this instance (default county-ingest-HOSTNAME)."),
    group: str = typer.Option("ingest", help="Shared-subscription group: instances in one group share telemetry and health ('' : none)."),
    session_expiry: int = typer.Option(86400, help="Seconds the broker keeps queueing for this instance while it is away."),
    seconds: float = typer.Option(0, help="Stop after this long (0: until Ctrl-C or SIGTERM)."),
    report_every: float = typer.Option(10.0, help="Seconds between progress lines."),
    cases: Path | None = typer.Option(None, "--cases", help="The county's loop file (deadlines, ladder, webhook, SMTP): open cases from danger alarms, escalate, notify."),
) -> None:
    """Store status, events, telemetry, health and replies, once per (station, seq), in SQLite or PostgreSQL."""
    from county.cases.config import load_config
    from county.i18n import Refused
    from county.ingest import run
    from county.topics import parse_broker

    host, port = parse_broker(broker)
    try:
        run(db, host, port, prefix, client_id, group, session_expiry, seconds, report_every, lambda line: typer.echo(line, err=True),
            cases=load_config(cases) if cases is not None else None)
    except Refused as exc:
        typer.echo(f"ingest: {exc.text('zh')}", err=True)
        raise typer.Exit(2) from None


@app.command()
def simulate(
    stations: int = typer.Option(20, help="How many simulated stations."),
    broker: str = typer.Option("127.0.0.1:1883", help="Broker HOST:PORT."),
    mode: str = typer.Option("selector", help="selector (one thread for all) or threads (one gateway Uplink thread each)."),
    seconds: float = typer.Option(0, help="Stop after this long (0: until Ctrl-C)."),
    county: str = typer.Option("410421", help="County code of the simulated stations."),
    telemetry_s: float = typer.Option(5.0, help="Seconds between telemetry messages of one station."),
    health_s: float = typer.Option(60.0, help="Seconds between health messages of one station."),
    alarm_every_s: float = typer.Option(300.0, help="Mean seconds between alarms of one station (0: none)."),
    workdir: Path | None = typer.Option(None, help="Where the outboxes go (default: a fresh folder in /dev/shm)."),
) -> None:
    """Run N simulated stations (own client, Will, outbox and scenario each) against one broker."""
    from county.sim.simulate import main

    try:
        main(stations, broker, mode, seconds, county, telemetry_s, health_s, alarm_every_s, workdir, lambda line: typer.echo(line, err=True))
    except ValueError as exc:
        typer.echo(f"simulate: {exc}", err=True)
        raise typer.Exit(2) from None


app.add_typer(sl651_app, name="sl651")
app.add_typer(people_app, name="people")
app.add_typer(cases_app, name="cases")

operator_app = typer.Typer(help="Operator accounts of the web view, and its audit log.", no_args_is_help=True)
app.add_typer(operator_app, name="operator")

DB_OPTION = typer.Option("sqlite:///county.db", help="sqlite:///FILE or postgresql://USER@HOST:PORT/DB.")
PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="Read the password from the first line of stdin instead of prompting.")


def _password(from_stdin: bool) -> str:
    """From stdin (for scripts) or a hidden prompt asked twice; never echoed."""
    import sys

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _accounts(db: str, action: Any, audit: tuple[str, str] | None = None) -> Any:
    """Run `action(accounts)` on the database; an AccountError becomes a one-line message and exit 2.

    `audit` (what, account) is written to the audit log as done by `cli:<login user>`, so account
    changes are on record next to what the operators did.
    """
    import getpass

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
        typer.echo(f"operator: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()


def _scope_text(scope: str) -> str:
    return scope or "whole county"


@operator_app.command("add")
def operator_add(
    name: str = typer.Argument(..., help="Login name (no spaces)."),
    scope: str = typer.Option("", help="What the operator sees: COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]] ('': everything)."),
    display_name: str = typer.Option("", help="Name shown on pages and in acknowledgements (default: NAME)."),
    password_stdin: bool = PASSWORD_STDIN,
    db: str = DB_OPTION,
) -> None:
    """Create an operator account."""
    password = _password(password_stdin)
    op = _accounts(db, lambda accounts: accounts.add(name, password, scope, display_name), ("operator_add", name))
    typer.echo(f"added operator {op.name} ({op.display_name}), scope: {_scope_text(op.scope)}")


@operator_app.command("passwd")
def operator_passwd(name: str = typer.Argument(...), password_stdin: bool = PASSWORD_STDIN, db: str = DB_OPTION) -> None:
    """Set an operator's password (also lifts a lock-out)."""
    password = _password(password_stdin)
    _accounts(db, lambda accounts: accounts.set_password(name, password), ("operator_passwd", name))
    typer.echo(f"password of {name} changed")


@operator_app.command("disable")
def operator_disable(name: str = typer.Argument(...), db: str = DB_OPTION) -> None:
    """Refuse an operator's logins (the account and its audit entries stay)."""
    _accounts(db, lambda accounts: accounts.set_enabled(name, False), ("operator_disable", name))
    typer.echo(f"operator {name} disabled")


@operator_app.command("enable")
def operator_enable(name: str = typer.Argument(...), db: str = DB_OPTION) -> None:
    """Allow a disabled operator to log in again."""
    _accounts(db, lambda accounts: accounts.set_enabled(name, True), ("operator_enable", name))
    typer.echo(f"operator {name} enabled")


@operator_app.command("list")
def operator_list(db: str = DB_OPTION) -> None:
    """Every operator: name, display name, scope, enabled."""
    from rich.table import Table

    table = Table("name", "display name", "scope", "enabled")
    for op, enabled in _accounts(db, lambda accounts: accounts.list()):
        table.add_row(escape(op.name), escape(op.display_name), escape(_scope_text(op.scope)), "yes" if enabled else "[red]no[/]")
    Console().print(table)


@operator_app.command("audit")
def operator_audit(
    scope: str = typer.Option("", help="Only entries about COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]] ('': all)."),
    limit: int = typer.Option(200, help="At most this many entries, newest first."),
    db: str = DB_OPTION,
    tz: str = typer.Option("Asia/Shanghai", help="Time zone the times are written in (the county's, as on its pages)."),
) -> None:
    """The audit log: who did what to which station, and how it ended."""
    import json
    from datetime import datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {tz!r} (e.g. Asia/Shanghai)", param_hint="--tz") from None

    from rich.table import Table

    table = Table("time", "operator", "action", "target", "command", "outcome", "detail")
    for column in table.columns[1:]:
        column.overflow = "fold"  # a narrow terminal breaks names and paths over lines rather than cutting them
    for e in _accounts(db, lambda accounts: accounts.audit(scope, limit)):
        when = datetime.fromtimestamp(e.at, zone).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(when, escape(e.operator), escape(e.action), escape(e.target), escape(e.command_id or ""), escape(e.outcome),
                      escape(json.dumps(e.detail, ensure_ascii=False)) if e.detail else "")
    Console().print(table)


if __name__ == "__main__":
    app()
