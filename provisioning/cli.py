"""`stationctl`: the technician's provisioning and commissioning CLI."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from foundation.errors import ConfigError
from gateway.config.station import config_schema, load_config
from provisioning import calibrate, cameras_cli, check, init_cmd, keys, model, report, service, suppressions_cli, zone
from provisioning.detect import detect_command
from provisioning.replay import replay_command

app = typer.Typer(help="Provision, check and commission a village station gateway.", no_args_is_help=True)

# Each command lives in its own module and registers itself here.
init_cmd.register(app)
check.register(app)
calibrate.register(app)
zone.register(app)
keys.register(app)
model.register(app)
service.register(app)
report.register(app)
cameras_cli.register(app)
suppressions_cli.register(app)
app.command("replay")(replay_command)
app.command("detect")(detect_command)


@app.command()
def validate(file: Path = typer.Argument(..., help="Station config (YAML) to check.")) -> None:
    """Check a station file; exit 0 when it is good, 2 with the field path and line of each problem."""
    try:
        cfg = load_config(file)
    except ConfigError as exc:
        typer.echo(f"INVALID {exc}", err=True)
        typer.echo("next: fix the field(s) named above (see `stationctl schema` for every field), then validate again", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"OK {file}: station {cfg.station.path}, {len(cfg.water_sensors)} water sensor(s), "
        f"{len(cfg.fire_inputs)} fire input(s), {len(cfg.cameras)} camera(s), config hash {cfg.fingerprint()}"
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of the station file."""
    typer.echo(json.dumps(config_schema(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    app()
