"""`countyctl update`: roll a software bundle or a model out to the stations under a prefix, a canary first.

The command line only: the file is read and checked (`bundle_file`), served (`server`) or named
under the county's own web server (`--url-base`), the stations found (`fleet_list`), the order
decided (`plan`) and the commands sent and audited (`runner`). Exit status: 0 every station
under the prefix updated; 1 a station rolled back, failed or refused (after a canary failure,
nothing else was touched); 2 bad input, nothing sent; 3 a station gave no final reply in time;
4 the stations sent to were updated but some were offline and skipped; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import getpass
import ipaddress
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live

from county.accounts import Accounts
from county.broker_cli import CA_OPTION, CERT_KEY_OPTION, CERT_OPTION, PASSWORD_ENV_OPTION, PASSWORD_FILE_OPTION, USERNAME_OPTION
from county.i18n import Refused, label, language, pick
from county.keys import KeyFileError, load_signing_key
from county.send import BrokerOptions, SendError
from county.store import Store
from county.topics import normalise_prefix, parse_broker
from county.update import texts
from county.update.bundle_file import UpdateFile, read_bundle, read_model
from county.update.fleet_list import known_targets, live_targets, stored_targets
from county.update.plan import ACTIVE, FAILED, UPDATED, Limits, Plan, Step, Target, make_plan
from county.update.progress import json_line, table
from county.update.runner import Audit, Rollout, StationRun
from county.update.server import OneFileServer
from foundation.redact import redact
from wire.command_args import UpdateArgs

EXIT_FAILED, EXIT_BAD, EXIT_TIMEOUT, EXIT_SKIPPED, EXIT_INTERRUPTED = 1, 2, 3, 4, 130
WAIT_MARGIN_S = 600  # beyond the deadline: the download and the install over a slow village link


def _stop(lang: str, pair: tuple[str, str], **values: object) -> typer.Exit:
    text = pick(lang, pair)
    typer.echo(pick(lang, ("更新：", "update: ")) + (text.format(**values) if values else text), err=True)
    return typer.Exit(EXIT_BAD)


def _file(bundle: Path, kind: str, version: str | None, lang: str) -> UpdateFile:
    if kind == "model":
        if not version:
            raise _stop(lang, texts.NEED_VERSION)
        return read_model(bundle, version)
    return read_bundle(bundle)


def _serve_address(serve_on: str | None, url_base: str | None, lang: str) -> tuple[str, int] | None:
    if serve_on is None:
        if not url_base:
            raise _stop(lang, texts.NEED_URL)
        return None
    host, sep, port_text = serve_on.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise typer.BadParameter(f"{serve_on!r} is not HOST:PORT", param_hint="--serve-on")
    port = int(port_text)
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = False
    if wildcard and not url_base:
        raise _stop(lang, texts.WILDCARD_HOST, host=host)
    return host, port


def _runs(plan: Plan, known: dict[str, str], to: str) -> dict[str, StationRun]:
    runs = {s: StationRun(s, "canary", known[s], to) for s in plan.canary}
    runs |= {s: StationRun(s, "rest", known[s], to) for s in plan.rest}
    runs |= {t.station: StationRun(t.station, "skipped", t.version, to, state="skipped",
                                   reason="offline" if t.online is False else "presence unknown") for t in plan.skipped}
    return runs


def exit_code(runs: dict[str, StationRun], step: Step) -> int:
    """0 all updated; 1 a failure; 3 only silences; 4 all sent updated, some skipped."""
    states = {r.state for r in runs.values()}
    if (step.halted_by is not None and runs[step.halted_by].state != "timeout") or states & (FAILED - {"timeout"}):
        return EXIT_FAILED
    if "timeout" in states:
        return EXIT_TIMEOUT
    return EXIT_SKIPPED if states - {UPDATED} else 0


def update(
    bundle: Path = typer.Option(..., "--bundle", help="The bundle from `make bundle` (tar.gz), or a .tflite with --kind model."),
    stations: str = typer.Option(..., "--stations", help="Which stations: COUNTY\\[/TOWN\\[/VILLAGE\\[/STATION]]]."),
    key: Path = typer.Option(..., "--key", "-k", help="County private key (countyctl keygen)."),
    kind: str = typer.Option("software", "--kind", help="software (a bundle) or model (a .tflite)."),
    version: str | None = typer.Option(None, "--version", help="The model's version name (--kind model; a bundle names its own)."),
    canary: int = typer.Option(2, min=0, help="Stations updated first; the rest follow only when all of them replied updated."),
    canary_wait: float | None = typer.Option(None, min=1, help="Seconds a canary station has, from the command, to reply updated (default: --deadline + 600)."),
    timeout: float | None = typer.Option(None, min=1, help="Seconds every other station has to reply updated (default: --deadline + 600)."),
    parallel: int = typer.Option(4, min=1, max=64, help="Stations updating at once after the canary."),
    serve_on: str | None = typer.Option(None, "--serve-on", help="Serve the file from here, HOST:PORT (an address the stations reach)."),
    url_base: str | None = typer.Option(None, "--url-base", help="The URL stations use: the folder holding the file on the county's web server, or this server's public address with --serve-on."),
    deadline: int = typer.Option(300, min=30, max=3600, help="Seconds a station's new version has to reconnect with every loop beating, else it rolls back."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before sending."),
    json_out: bool = typer.Option(False, "--json", help="One JSON line per station outcome on stdout (for scripts), no table."),
    broker: str = typer.Option("127.0.0.1:1883", help="Broker HOST:PORT."),
    ca: Path | None = CA_OPTION,
    cert: Path | None = CERT_OPTION,
    cert_key: Path | None = CERT_KEY_OPTION,
    username: str | None = USERNAME_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    password_env: str | None = PASSWORD_ENV_OPTION,
    db: str = typer.Option("sqlite:///county.db", help="The ingest's database (stations known, and the audit log)."),
    ttl: float = typer.Option(300.0, help="Seconds each command stays valid before a station starts it."),
    lang: str | None = typer.Option(None, "--lang", help="zh (default) or en; default from LANG."),
) -> None:
    """Update the stations under a prefix: serve the file, send signed update commands, canary first, show progress."""
    lg = language(lang)
    if kind not in ("software", "model"):
        raise typer.BadParameter("software or model", param_hint="--kind")
    address = _serve_address(serve_on, url_base, lg)
    try:
        normalise_prefix(stations)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stations") from None
    try:
        file = _file(bundle, kind, version, lg)
        signing_key = load_signing_key(key)
    except Refused as exc:
        raise _stop(lg, (exc.zh, exc.en)) from None
    except KeyFileError as exc:
        raise _stop(lg, (str(exc), str(exc))) from None
    host, port = parse_broker(broker)
    opts = BrokerOptions(host, port, ca, cert, cert_key, username, password_file, password_env)
    try:
        store = Store(db)
    except Exception as exc:  # noqa: BLE001 - SQLite or PostgreSQL, whatever their error: one line, nothing sent
        raise _stop(lg, (redact(f"无法打开数据库 {db}：{exc}", [db]), redact(f"cannot open the database {db}: {exc}", [db]))) from None
    try:
        try:
            targets = known_targets(stored_targets(store, stations), live_targets(opts, stations))
        except (SendError, ValueError) as exc:
            raise _stop(lg, (str(exc), str(exc))) from None
        if not targets:
            raise _stop(lg, texts.NO_STATIONS, prefix=stations)
        plan = make_plan(targets, canary, file.version)
        server = None
        if address is not None:
            try:
                server = OneFileServer(file, address[0], address[1]).start()
            except OSError as exc:
                raise _stop(lg, (f"无法在 {serve_on} 提供文件：{exc.strerror or exc}", f"cannot serve on {serve_on}: {exc.strerror or exc}")) from None
        try:
            url = server.url(url_base or f"http://{address[0]}:{server.port}") if server and address else f"{(url_base or '').rstrip('/')}/{quote(file.path.name)}"
            try:
                args = UpdateArgs(kind=file.kind, version=file.version, url=url, size=file.size, sha256=file.sha256, deadline_s=deadline).model_dump()
            except ValidationError as exc:
                first = exc.errors()[0]
                raise _stop(lg, texts.BAD_ARGS, problem=f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
            code = _roll_out(opts, signing_key, args, plan, Limits(canary_wait or deadline + WAIT_MARGIN_S, timeout or deadline + WAIT_MARGIN_S, parallel), targets, store, lg, yes, json_out, url, ttl)
        finally:
            if server is not None:
                server.stop()
    finally:
        store.close()
    if code:
        raise typer.Exit(code)


def _roll_out(opts: BrokerOptions, signing_key: Ed25519PrivateKey, args: dict[str, Any], plan: Plan, limits: Limits, targets: list[Target],
              store: Store, lg: str, yes: bool, json_out: bool, url: str, ttl: float) -> int:
    """Confirm, send, show; the exit status."""
    console = Console(stderr=json_out, highlight=False)
    err = Console(stderr=True, highlight=False)
    to = args["version"]
    err.print(pick(lg, texts.SERVING).format(url=url), markup=False, soft_wrap=True)
    err.print(pick(lg, texts.PLAN).format(n=len(plan.order), canary=", ".join(plan.canary) or "-", rest=len(plan.rest),
                                          parallel=limits.parallel, skipped=len(plan.skipped)), markup=False, soft_wrap=True)
    if plan.order and not yes and not typer.confirm(pick(lg, texts.CONFIRM), default=False, err=True):
        err.print(pick(lg, texts.ABORTED), markup=False, soft_wrap=True)
        return EXIT_BAD
    runs = _runs(plan, {t.station: t.version for t in targets}, to)
    audit = Audit(Accounts(store), f"cli:{getpass.getuser()}", uuid.uuid4().hex)
    out_lock = threading.Lock()

    def on_change(run: StationRun) -> None:
        if json_out and (run.state in FAILED | {UPDATED, "not_sent"}):
            with out_lock:
                typer.echo(json_line(run))

    if json_out:
        for s in plan.skipped:
            typer.echo(json_line(runs[s.station]))
    rollout = Rollout(opts, signing_key, args, plan, limits, runs, audit, on_change, ttl_s=ttl)
    title = pick(lg, texts.TITLE).format(to=to, n=len(runs), canary=len(plan.canary))
    try:
        if json_out:
            step = rollout.run()
        else:
            with Live(get_renderable=lambda: table(list(runs.values()), lg, title), console=console, refresh_per_second=4):
                step = rollout.run()
            if not console.is_terminal:
                console.line()  # a terminal's Live leaves the cursor below the table; a pipe needs the newline
    except KeyboardInterrupt:
        out = sum(r.state in ACTIVE for r in runs.values())
        err.print(pick(lg, texts.INTERRUPTED).format(n=out), markup=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    if step.halted_by is not None:
        r = runs[step.halted_by]
        why = pick(lg, texts.CANARY_FAILED if step.canary_failed else texts.REST_FAILED).format(
            station=r.station, state=label(texts.STATE, r.state, lg), reason=r.reason or "-")
        err.print(pick(lg, texts.HALTED).format(why=why), markup=False, soft_wrap=True)
    counts = [r.state for r in runs.values()]
    err.print(pick(lg, texts.DONE).format(updated=counts.count(UPDATED), failed=sum(c in FAILED for c in counts),
                                          skipped=counts.count("skipped"), left=counts.count("not_sent")), markup=False, soft_wrap=True)
    return exit_code(runs, step)
