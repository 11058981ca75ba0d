"""`stationctl`: the technician's provisioning and commissioning CLI."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from foundation.errors import ConfigError
from gateway.config.station import config_schema, load_config
from provisioning import calibrate, cameras_cli, check, init_cmd, keys, model, report, service, suppressions_cli, zone
from provisioning.detect import detect_command
from provisioning.i18n import LANG_OPTION, language, pick
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
def validate(
    file: Path = typer.Argument(..., help="Station config (YAML) to check."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Check a station file; exit 0 when it is good, 2 with the field path and line of each problem.

    The first word stays OK or INVALID in both languages, for scripts."""
    lg = language(lang)
    try:
        cfg = load_config(file)
    except ConfigError as exc:
        typer.echo(f"INVALID {exc}", err=True)
        typer.echo(pick(lg, ("下一步：按上面指出的字段改正（每个字段的说明见 `stationctl schema`），然后再次校验",
                             "next: fix the field(s) named above (see `stationctl schema` for every field), then validate again")), err=True)
        raise typer.Exit(2) from None
    counts = (len(cfg.water_sensors), len(cfg.fire_inputs), len(cfg.cameras))
    typer.echo(pick(lg, (
        f"OK {file}：站点 {cfg.station.path}，水位传感器 {counts[0]} 个，火情输入 {counts[1]} 个，摄像头 {counts[2]} 个，"
        f"配置指纹 {cfg.fingerprint()}",
        f"OK {file}: station {cfg.station.path}, {counts[0]} water sensor(s), {counts[1]} fire input(s), {counts[2]} camera(s), "
        f"config hash {cfg.fingerprint()}",
    )))


@app.command()
def schema() -> None:
    """Print the JSON Schema of the station file."""
    typer.echo(json.dumps(config_schema(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    app()
