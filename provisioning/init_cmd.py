"""`stationctl init`: write a station file from flags, or by asking the technician.

The file is validated by the gateway's own loader before it is written, so what `init` writes
always passes `stationctl validate`.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer
import yaml

from foundation.atomic_file import write_atomic
from gateway.config.station import parse_config
from provisioning import init_prompts as ask
from provisioning import init_spec as spec
from provisioning.errors import ProvisioningError
from provisioning.ui import handled, make_console

WATER_HELP = "Water sensor as key=value pairs, repeatable: id=gauge-1,type=ultrasonic,port=/dev/ttyUSB0,mount_height_m=3.2,warning_m=1.8,danger_m=2.4"
FIRE_HELP = "Fire/smoke input, repeatable: id=smoke-1,kind=smoke,type=gpio,pin=17,pull=up,active=low"
CAMERA_HELP = "Camera, repeatable: id=cam-1,type=file,path=/srv/pond.mp4"
SPEAKER_HELP = "Loudspeaker: type=alsa,device=plughw:1,0,amplifier.pin=27 or type=simulated,record_dir=/tmp/pa; standard warnings are added"


def init(
    out: Path = typer.Option(Path("station.yaml"), "--out", "-o", help="Where to write the station file."),
    county: str | None = typer.Option(None, help="County code, first topic level (e.g. 410421)."),
    town: str | None = typer.Option(None, help="Township, second topic level."),
    village: str | None = typer.Option(None, help="Village, third topic level."),
    station_id: str | None = typer.Option(None, "--id", help="Station id, fourth topic level (e.g. pond-01)."),
    name: str = typer.Option("", help="Human name of the station."),
    broker: str = typer.Option("127.0.0.1:1883", help="County broker as HOST[:PORT]."),
    tls_ca: Path | None = typer.Option(None, help="CA file of the broker's certificate (turns TLS on)."),
    username: str | None = typer.Option(None, help="MQTT user name."),
    password_file: Path | None = typer.Option(None, help="File holding the MQTT password."),
    data_dir: str = typer.Option("/var/lib/station-gateway", help="Folder of the outbox database."),
    water: list[str] = typer.Option([], "--water", help=WATER_HELP),
    fire: list[str] = typer.Option([], "--fire", help=FIRE_HELP),
    camera: list[str] = typer.Option([], "--camera", help=CAMERA_HELP),
    speaker: str | None = typer.Option(None, "--speaker", help=SPEAKER_HELP),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Ask for everything (the default on a terminal when identity flags are missing)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a station file from flags, or interactively; the result passes `stationctl validate`."""
    console = make_console()
    with handled(console, out):
        if out.exists() and not force:
            raise ProvisioningError(f"{out} exists", "choose another --out, or add --force to overwrite it", exit_code=2)
        identity = {"county": county, "town": town, "village": village, "id": station_id, "name": name}
        missing = [k for k in ("county", "town", "village", "id") if not identity[k]]
        asking = interactive or (bool(missing) and sys.stdin.isatty())
        if missing and not asking:
            flags = ", ".join("--id" if k == "id" else f"--{k}" for k in missing)
            raise ProvisioningError(f"missing {flags}", f"give {flags}, or run `stationctl init --interactive` to be asked", exit_code=2)
        water_flat = [spec.parse_spec(s, "water sensor") for s in water]
        fire_flat = [spec.parse_spec(s, "fire input") for s in fire]
        camera_flat = [spec.parse_spec(s, "camera") for s in camera]
        speaker_flat = spec.parse_spec(speaker, "loudspeaker") if speaker else None
        host, port = spec.parse_broker(broker)
        if asking:
            for key in ("county", "town", "village", "id"):
                identity[key] = typer.prompt(f"Station {key}", default=identity[key] or None)
            identity["name"] = typer.prompt("Station name (shown to operators)", default=name or "", show_default=False)
            host, port = spec.parse_broker(typer.prompt("County broker HOST:PORT", default=f"{host}:{port}"))
            water_flat += ask.ask_water_sensors()
            fire_flat += ask.ask_fire_inputs()
            camera_flat += ask.ask_cameras()
            if speaker_flat is None:
                speaker_flat = ask.ask_loudspeaker()
        doc = build(identity, host, port, tls_ca, username, password_file, data_dir, water_flat, fire_flat, camera_flat, speaker_flat)
        text = render(doc, out)
        cfg = parse_config(text, str(out))
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, text)
    console.print(
        f"[green]wrote[/] {out}: station {cfg.station.path}, {len(cfg.water_sensors)} water sensor(s), "
        f"{len(cfg.fire_inputs)} fire input(s), {len(cfg.cameras)} camera(s), "
        f"loudspeaker {'yes' if cfg.loudspeaker else 'no'}"
    )
    console.print(f"[bold]next:[/] stationctl check --config {out}")


def build(
    identity: dict[str, Any],
    host: str,
    port: int,
    tls_ca: Path | None,
    username: str | None,
    password_file: Path | None,
    data_dir: str,
    water: list[dict[str, Any]],
    fire: list[dict[str, Any]],
    cameras: list[dict[str, Any]],
    speaker: dict[str, Any] | None,
) -> dict[str, Any]:
    broker: dict[str, Any] = {"host": host, "port": port}
    if username:
        broker["username"] = username
    if password_file:
        broker["password_file"] = str(password_file)
    if tls_ca:
        broker["tls"] = {"ca_file": str(tls_ca)}
    water_docs = [spec.water_sensor(w) for w in water]
    fire_docs = [spec.fire_input(f) for f in fire]
    camera_docs = [spec.camera(c) for c in cameras]
    speaker_doc = spec.loudspeaker(speaker, spec.alarm_kinds(water_docs, fire_docs, camera_docs)) if speaker else None
    return spec.station_document(identity, broker, data_dir, water_docs, fire_docs, camera_docs, speaker_doc)


def render(doc: dict[str, Any], out: Path) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"# Station file written by `stationctl init` on {stamp}.\n"
        f"# Check it with: stationctl validate {out}\n"
        f"# Test the hardware with: stationctl check --config {out}\n"
    )
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=4096)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
