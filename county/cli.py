"""`countyctl`: the county center's reference tool."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from county.cases.cli import app as cases_app
from county.feed import FeedCollector, FeedLine, FeedSubscriber
from county.i18n import LANG_OPTION, Pair, Refused, language, pick
from county.keys import keygen
from county.operator_cli import app as operator_app
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
    lang: str | None = LANG_OPTION,
) -> None:
    """Print every message under a prefix as a readable line (Chinese unless --lang en)."""
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
    lang: str | None = LANG_OPTION,
) -> None:
    """Run the simulated station against a private broker and show the county feed (Chinese unless --lang en)."""
    from pathlib import Path

    from county.sim.demo import main

    main(config=Path(config), duration=duration, outage_at=duration * 0.37, outage_s=6.0, lang=lang)


@app.command()
def contract(
    out: Path | None = typer.Option(None, help="Write here (YAML for .yaml/.yml, else JSON) instead of stdout."),
    server: str = typer.Option("county-broker:1883", help="Broker HOST:PORT named in the document."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Write the AsyncAPI 3.0 document of every topic and payload (schemas generated from the wire models)."""
    from county.contract import main

    lg = language(lang)
    try:
        text = main(out, server)
    except OSError as exc:
        typer.echo(pick(lg, (f"接口文档：无法写入 {out}：{exc.strerror or exc}", f"contract: cannot write {out}: {exc.strerror or exc}")), err=True)
        raise typer.Exit(1) from None
    if out is None:
        typer.echo(text, nl=False)
    else:
        typer.echo(pick(lg, (f"已写入接口文档 {out}", f"wrote {out}")), err=True)


@app.command()
def watch(
    prefix: str = typer.Argument("vs/v1", help="County, township, village or station: vs/v1/COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]]."),
    broker: str = typer.Option("127.0.0.1:1883", help="Broker HOST:PORT."),
    once: bool = typer.Option(False, "--once", help="Listen for --seconds (default 1), print the table once and exit."),
    seconds: float = typer.Option(0, help="Stop after this long (0: until Ctrl-C)."),
    db: str | None = typer.Option(None, help="Ingest database to start from (shows alarms raised before the watch began)."),
    lang: str | None = LANG_OPTION,
) -> None:
    """A live table of stations: online/offline, last seen, active alarms, queue depth, camera fps (Chinese unless --lang en)."""
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
    lang: str | None = LANG_OPTION,
) -> None:
    """Store status, events, telemetry, health and replies, once per (station, seq), in SQLite or PostgreSQL."""
    from county.cases.config import load_config
    from county.ingest import run

    lg = language(lang)
    host, port = _broker(broker, lg, ("入库：", "ingest: "))
    try:
        run(db, host, port, prefix, client_id, group, session_expiry, seconds, report_every, lambda line: typer.echo(line, err=True),
            cases=load_config(cases) if cases is not None else None, lang=lg)
    except Refused as exc:
        typer.echo(pick(lg, ("入库：", "ingest: ")) + exc.text(lg), err=True)
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
    lang: str | None = LANG_OPTION,
) -> None:
    """Run N simulated stations (own client, Will, outbox and scenario each) against one broker."""
    from county.sim.simulate import MAX_THREADED, main

    lg, prefix = language(lang), ("模拟：", "simulate: ")
    _broker(broker, lg, prefix)
    if mode not in ("selector", "threads"):
        typer.echo(pick(lg, prefix) + pick(lg, (f"没有 {mode!r} 这种方式（selector 或 threads）", f"unknown mode {mode!r} (selector or threads)")), err=True)
        raise typer.Exit(2)
    if mode == "threads" and stations > MAX_THREADED:
        typer.echo(pick(lg, prefix) + pick(lg, (f"threads 方式每个进程最多 {MAX_THREADED} 个站点；{stations} 个请用 --mode selector",
                                                f"threads mode runs at most {MAX_THREADED} stations per process (paho's loop() uses select()); "
                                                f"use --mode selector for {stations}")), err=True)
        raise typer.Exit(2)
    try:
        main(stations, broker, mode, seconds, county, telemetry_s, health_s, alarm_every_s, workdir, lambda line: typer.echo(line, err=True), lg)
    except ValueError as exc:
        typer.echo(pick(lg, prefix) + str(exc), err=True)
        raise typer.Exit(2) from None


def _broker(broker: str, lang: str, prefix: Pair) -> tuple[str, int]:
    """HOST:PORT (or HOST) as (host, port); anything else is one line in `lang` and exit 2."""
    from county.topics import parse_broker

    try:
        return parse_broker(broker)
    except ValueError:
        typer.echo(pick(lang, prefix) + pick(lang, (f"--broker {broker!r} 应写成 HOST:PORT", f"--broker {broker!r} is not HOST:PORT")), err=True)
        raise typer.Exit(2) from None


app.add_typer(sl651_app, name="sl651")
app.add_typer(people_app, name="people")
app.add_typer(cases_app, name="cases")
app.add_typer(operator_app, name="operator")


if __name__ == "__main__":
    app()
