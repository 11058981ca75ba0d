"""`countyctl cases`: open, merge, list, show and step cases; run the escalation tick or the whole loop.

`--as ACCOUNT` acts as that web account (its scope applies, and the audit log names it); without
it the command acts as the county administrator at this console (`cli:<login user>`, whole county).
Chinese unless --lang en.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from county.i18n import Refused, label, language, pick

T = TypeVar("T")
app = typer.Typer(help="Cases: alarms dispatched to the village's people, followed to the end, escalated when late.", no_args_is_help=True)
DB = typer.Option("sqlite:///county.db", help="sqlite:///FILE or postgresql://USER@HOST:PORT/DB.")
CONFIG = typer.Option(None, "--config", "-c", help="The county's loop file (deadlines, ladder, webhook, SMTP); defaults without.")
LANG = typer.Option(None, "--lang", help="zh (default) or en; default from LANG.")
AS = typer.Option(None, "--as", help="Act as this web account (its scope applies); default: the administrator at this console.")


def with_cases(db: str, config: Path | None, lang: str, account: str | None, action: Callable[[Any, Any], T]) -> T:
    """Run `action(cases, actor)`; a refusal becomes one line in the chosen language and exit 2."""
    from county.accounts import Operator
    from county.cases.config import load_config
    from county.cases.db import LoopDb
    from county.cases.service import Cases

    loop_db = None
    try:
        conf = load_config(config)
        loop_db = LoopDb(db)
        cases = Cases(loop_db, conf)
        actor = Operator(f"cli:{getpass.getuser()}", "", "cli")
        if account is not None:
            found = cases.accounts.get(account)
            if found is None:
                raise Refused(f"没有启用的网页账号 {account!r}", f"no enabled web account {account!r}")
            actor = found
        return action(cases, actor)
    except Refused as exc:
        typer.echo(pick(lang, ("案件：", "cases: ")) + exc.text(lang), err=True)
        raise typer.Exit(2) from None
    finally:
        if loop_db is not None:
            loop_db.close()


def _when(t: float, cases: Any) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(cases.config.tz)).strftime("%Y-%m-%d %H:%M:%S")


def _summary_line(case: Any, lang: str) -> str:
    from county.cases.rules import STATES

    return pick(lang, (f"案件 #{case.id} {case.station} {STATES[case.state][0]}", f"case #{case.id} {case.station} {STATES[case.state][1]}"))


@app.command("open")
def open_case(station: str = typer.Argument(..., help="Station path COUNTY/TOWN/VILLAGE/STATION."),
              event_id: str = typer.Argument(..., help="The alarm's event id."), note: str = typer.Option("", help="Why it was opened."),
              db: str = DB, config: Path | None = CONFIG, lang: str | None = LANG, account: str | None = AS) -> None:
    """Open a case for any alarm and dispatch it."""
    lg = language(lang)
    case = with_cases(db, config, lg, account, lambda c, actor: c.open_for_alarm(actor, station, event_id, time.time(), note))
    typer.echo(_summary_line(case, lg) + pick(lg, (f"，派给：{'、'.join(a.name for a in case.assignees) or '（无）'}",
                                                 f", dispatched to: {', '.join(a.name for a in case.assignees) or '(nobody)'}")))


@app.command("merge")
def merge(case_id: int = typer.Argument(..., help="The case that keeps the alarms."),
          event_ids: list[str] = typer.Argument(..., help="Event ids of more alarms of the same station."),
          db: str = DB, config: Path | None = CONFIG, lang: str | None = LANG, account: str | None = AS) -> None:
    """Merge alarms of one station into one case (a case left empty is closed as a duplicate)."""
    lg = language(lang)
    case = with_cases(db, config, lg, account, lambda c, actor: c.merge(actor, case_id, event_ids, time.time()))
    typer.echo(_summary_line(case, lg) + pick(lg, (f"，含告警 {len(case.alarms)} 条", f", {len(case.alarms)} alarm(s)")))


@app.command("step")
def step(case_id: int = typer.Argument(...),
         action: str = typer.Argument(..., help="accept 签收 | arrive 到场 | handle 处置反馈 | verify 验收 | send_back 退回 | close 结案."),
         note: str = typer.Option("", help="What was done (handle), why (send_back), or a remark."),
         photo: list[str] = typer.Option([], "--photo", help="Photo id of the feedback (repeatable)."),
         result: str | None = typer.Option(None, help="With close: resolved | false_alarm (误报) | duplicate (重复)."),
         db: str = DB, config: Path | None = CONFIG, lang: str | None = LANG, account: str | None = AS) -> None:
    """Move a case one step (who and when go to the audit log)."""
    lg = language(lang)
    case = with_cases(db, config, lg, account, lambda c, actor: c.step(actor, case_id, action, time.time(), note, photo, result))
    typer.echo(_summary_line(case, lg))


@app.command("list")
def list_cases(open_only: bool = typer.Option(False, "--open", help="Only cases not closed."),
               limit: int = typer.Option(100, help="At most this many, newest first."),
               db: str = DB, config: Path | None = CONFIG, lang: str | None = LANG, account: str | None = AS) -> None:
    """Cases in scope, newest first: state, rung, deadline, overdue."""
    from county.cases.dispatch import KINDS, SEVERITIES
    from county.cases.rules import STATES

    lg = language(lang)

    def rows(c: Any, actor: Any) -> Table:
        table = Table(*pick(lg, (("编号", "站点", "类型", "级别", "状态", "超时", "期限", "负责人"),
                                 ("id", "station", "kind", "severity", "state", "overdue", "due", "assigned"))))  # type: ignore[arg-type]
        for column in table.columns:
            column.overflow = "fold"
        for case in c.list(actor, open_only, limit):
            due = case.accept_due if case.state == "dispatched" else case.handle_due
            table.add_row(str(case.id), escape(case.station), escape(KINDS.get(case.kind, case.kind) if lg == "zh" else case.kind),
                          SEVERITIES.get(case.severity, case.severity) if lg == "zh" else case.severity, pick(lg, STATES[case.state]),
                          pick(lg, ("[red]超时[/]", "[red]overdue[/]")) if case.overdue else "",
                          _when(due, c) if case.state != "closed" else "", escape("、".join(a.name for a in case.assignees)))
        return table

    Console(highlight=False).print(with_cases(db, config, lg, account, rows))


@app.command("show")
def show(case_id: int = typer.Argument(...), db: str = DB, config: Path | None = CONFIG, lang: str | None = LANG,
         account: str | None = AS) -> None:
    """One case: its alarms, people, every step with who and when, and its notifications."""
    from county.cases.rules import ACTIONS, RESULTS, STATES

    lg = language(lang)
    console = Console(highlight=False)

    def render(c: Any, actor: Any) -> None:
        case, steps, notes = c.show(actor, case_id)
        console.print(escape(_summary_line(case, lg)) + (pick(lg, (f"({RESULTS[case.result][0]})", f" ({case.result})")) if case.result else ""))
        console.print(escape(f"{case.kind} {case.severity}: {case.summary}"))
        console.print(pick(lg, ("告警：", "alarms: ")) + escape(", ".join(case.alarms)))
        console.print(pick(lg, ("负责人：", "assigned: ")) + escape(", ".join(f"{a.name} {a.phone}" for a in case.assignees)))
        table = Table(*pick(lg, (("时间", "操作人", "操作", "状态", "说明"), ("time", "actor", "action", "state", "note"))))  # type: ignore[arg-type]
        for column in table.columns:
            column.overflow = "fold"
        for s in steps:
            photos = f" [{', '.join(s.photos)}]" if s.photos else ""
            table.add_row(_when(s.at, c), escape(s.actor), escape(label(ACTIONS, s.action, lg)), label(STATES, s.to_state, lg),
                          escape(s.note + photos))
        console.print(table)
        for n in notes:
            console.print(escape(f"#{n[0]} {n[1]} {n[2]}: {n[3]} ({n[4]}) {n[5]}"))

    with_cases(db, config, lg, account, render)


@app.command("tick")
def tick(db: str = DB, config: Path | None = CONFIG, lang: str | None = LANG) -> None:
    """Once: open cases for alarms that lack one and escalate late cases (for cron; `run` does it continuously)."""
    lg = language(lang)

    def once(c: Any, actor: Any) -> tuple[int, int]:
        now = time.time()
        return len(c.sweep(now)), len(c.tick(now))

    opened, escalated = with_cases(db, config, lg, None, once)
    typer.echo(pick(lg, (f"新开案件 {opened} 件，督办升级 {escalated} 件", f"opened {opened}, escalated {escalated}")))


@app.command("run")
def run(db: str = DB, config: Path | None = CONFIG, seconds: float = typer.Option(0, help="Stop after this long (0: until Ctrl-C)."),
        lang: str | None = LANG) -> None:
    """Run the loop on its own: open cases from stored alarms, escalate, deliver notifications (beside an ingest without it)."""
    from county.cases.config import load_config
    from county.cases.loop import CaseLoop

    lg = language(lang)
    try:
        loop = CaseLoop(db, load_config(config)).start()
    except Refused as exc:
        typer.echo(pick(lg, ("案件：", "cases: ")) + exc.text(lg), err=True)
        raise typer.Exit(2) from None
    deadline = time.monotonic() + seconds if seconds else float("inf")
    try:
        while time.monotonic() < deadline:
            time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))
            typer.echo(loop.line(lg), err=True)
    except KeyboardInterrupt:
        pass
    finally:
        loop.stop()
