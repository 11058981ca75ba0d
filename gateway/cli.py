"""`station-gateway`: the process systemd runs on the station."""

from __future__ import annotations

import logging
import shutil
import signal
import threading
from pathlib import Path

import typer

from foundation.errors import ConfigError
from gateway.config.station import StationConfig, load_config

app = typer.Typer(help="Village station gateway.", no_args_is_help=True)


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
        tmp = keep.with_name(keep.name + ".tmp")
        shutil.copyfile(path, tmp)
        tmp.replace(keep)
    except OSError:
        pass  # a read-only config folder: no fallback copy, nothing else changes
    return cfg, []


@app.command()
def run(
    config: Path = typer.Option(..., "--config", "-c", help="Station config (YAML)."),
    broker: str | None = typer.Option(None, "--broker", help="Override the broker as HOST:PORT."),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING, ERROR."),
) -> None:
    """Run the station until SIGTERM or Ctrl-C."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # it logs every timeout; the driver counts and reports them
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
    if station.exit_code:
        raise typer.Exit(station.exit_code)  # e.g. 75 after config/set: systemd starts the gateway again


@app.command()
def version() -> None:
    """Print the gateway version."""
    from gateway import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
