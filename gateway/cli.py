"""`station-gateway`: the process systemd runs on the station.

One per station: `run` locks `<outbox>.lock` (foundation.instance_lock) before it writes or opens
anything, so a second one (started by hand beside the service) exits at once naming the first.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import ExitStack
from pathlib import Path

import typer

from foundation.atomic_file import write_atomic
from foundation.errors import ConfigError
from foundation.instance_lock import AlreadyRunning, InstanceLock
from gateway.config.station import StationConfig, load_config

app = typer.Typer(help="Village station gateway.", no_args_is_help=True)
EXIT_ALREADY_RUNNING = 73  # EX_CANTCREAT: the station's lock is held by a running gateway


def last_good_path(path: Path) -> Path:
    """Where the last config that validated is kept: beside the file, `<file>.last-good`."""
    return Path(str(path) + ".last-good")


def resolve_config(path: Path) -> tuple[StationConfig, list[str]]:
    """The config to run: the file if it is valid (then remembered as last good), else the last good copy.

    Returns the config and the problems of the file when the last good copy had to be used: a
    station on a pole keeps watching on yesterday's settings rather than stop over a typo.
    """
    keep = last_good_path(path)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        if not keep.exists():
            raise
        return load_config(keep), exc.problems or [str(exc)]
    try:
        write_atomic(keep, path.read_bytes(), like=path)
    except OSError:
        pass  # a read-only config folder: no fallback copy, nothing else changes
    return cfg, []


def lock_path(outbox: Path) -> Path:
    """The lock that makes one gateway per station: beside its outbox, the state two gateways would fight over."""
    return Path(str(outbox) + ".lock")


def outbox_of(path: Path) -> Path | None:
    """The outbox the station file (else its last good copy) names, read without writing anything."""
    for candidate in (path, last_good_path(path)):
        try:
            return load_config(candidate).outbox.path
        except (ConfigError, OSError):
            continue
    return None


def hold_station_lock(locks: ExitStack, held: dict[Path, InstanceLock], outbox: Path) -> None:
    """Lock the station of `outbox` unless this process already holds it; exit at once if another process does."""
    path = lock_path(outbox).resolve()
    if path in held:
        return
    try:
        held[path] = locks.enter_context(InstanceLock(path))
    except AlreadyRunning as exc:  # the service, or one started by hand
        typer.echo(f"cannot start: {exc}; stop that one first (systemctl stop station-gateway)", err=True)
        raise typer.Exit(EXIT_ALREADY_RUNNING) from None
    except OSError as exc:
        typer.echo(f"cannot start: cannot lock {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def run(
    config: Path = typer.Option(..., "--config", "-c", help="Station config (YAML)."),
    broker: str | None = typer.Option(None, "--broker", help="Override the broker as HOST:PORT."),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING, ERROR."),
) -> None:
    """Run the station until SIGTERM or Ctrl-C."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # it logs every timeout; the driver counts and reports them
    with ExitStack() as locks:
        held: dict[Path, InstanceLock] = {}
        # before anything is written or opened: a second gateway would roll back the first one's
        # config trial, take over its broker session and allocate the same outbox seqs
        peeked = outbox_of(config)
        if peeked is not None:
            hold_station_lock(locks, held, peeked)
        cfg, problems = start_config(config, broker)
        hold_station_lock(locks, held, cfg.outbox.path)  # no-op unless the file was unreadable before a rollback restored it
        exit_code = run_station(cfg, config, problems)
    if exit_code:
        raise typer.Exit(exit_code)  # e.g. 75 after config/set: systemd starts the gateway again


def start_config(config: Path, broker: str | None) -> tuple[StationConfig, list[str]]:
    """Settle a config trial, then the config to run (see `resolve_config`) with the `--broker` override."""
    from gateway.commands.config_trial import settle_before_start

    if settle_before_start(config):  # a config/set trial ran out of time while the gateway was down or crashing
        logging.getLogger(__name__).error("%s: the config change on trial was rolled back", config)
    try:
        cfg, problems = resolve_config(config)
    except ConfigError as exc:
        typer.echo(f"cannot start: {exc}", err=True)
        raise typer.Exit(2) from None
    if broker:
        host, _, port = broker.rpartition(":")
        if not host or not port.isdigit():
            typer.echo(f"--broker must be HOST:PORT, not {broker!r}", err=True)
            raise typer.Exit(2)
        cfg = cfg.model_copy(update={"broker": cfg.broker.model_copy(update={"host": host, "port": int(port)})})
    return cfg, problems


def run_station(cfg: StationConfig, config: Path, problems: list[str]) -> int | None:
    """Run the station until SIGTERM or SIGINT; the exit code it asked for, if any."""
    from gateway.station import Station

    station = Station(cfg, config_path=config)
    if problems:
        station.notice("config_invalid", f"{config} is invalid; running on the last good config", severity="danger",
                       source=str(config), details={"problems": problems})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    station.start()
    try:
        station.run_forever(stop)
    finally:
        station.stop()
    return station.exit_code


@app.command()
def version() -> None:
    """Print the gateway version."""
    from gateway import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
