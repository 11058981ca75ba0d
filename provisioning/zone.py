"""`stationctl zone`: set a camera's danger-zone polygon and show it drawn on a live frame.

Coordinates are fractions of the frame (0..1, origin top left), as the detector uses them, so
the zone stays right when the camera's resolution or stream changes. The PNG is written even
when the station file cannot take the zone, so the technician can always check the drawing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cv2
import typer
from ruamel.yaml.comments import CommentedMap

from gateway.config.station import parse_config
from provisioning.errors import ProvisioningError
from provisioning.frames import snapshot
from provisioning.station_file import StationFile, to_yaml_seq
from provisioning.ui import handled, make_console, make_progress
from provisioning.zone_config import ZoneLayout, find_layout, zone_list, zones_of
from provisioning.zone_draw import draw_zones, polygon_area

Point = tuple[float, float]
MIN_AREA = 1e-4  # a zone smaller than this fraction of the frame is a typo, not a zone
POINTS_HELP = 'Corners as normalized "x,y" pairs (0..1, origin top left), separated by spaces: "0.1,0.6 0.9,0.6 0.9,1 0.1,1".'


def parse_points(text: str) -> list[Point]:
    """`"x1,y1 x2,y2 ..."` as points; ProvisioningError naming the bad pair."""
    pairs = [p for p in re.split(r"[\s;]+", text.strip()) if p]
    points: list[Point] = []
    for pair in pairs:
        parts = pair.split(",")
        try:
            x, y = (float(v) for v in parts)
        except ValueError:
            raise ProvisioningError(f"--points: {pair!r} is not x,y", POINTS_HELP, exit_code=2) from None
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ProvisioningError(f"--points: {pair!r} is outside the frame (0..1)",
                                    "give coordinates as fractions of the frame width and height, not pixels", exit_code=2)
        points.append((round(x, 4), round(y, 4)))
    if len(points) < 3:
        raise ProvisioningError(f"--points: a zone needs at least 3 corners, got {len(points)}", POINTS_HELP, exit_code=2)
    if polygon_area(points) < MIN_AREA:
        raise ProvisioningError("--points: the polygon has (almost) no area",
                                "check the order and values of the corners; they should go round the zone", exit_code=2)
    return points


def zone_entry(layout: ZoneLayout, name: str, points: list[Point]) -> CommentedMap:
    entry = CommentedMap()
    if layout.name_field:
        entry[layout.name_field] = name
    if layout.point_fields:
        fx, fy = layout.point_fields
        entry[layout.polygon_field] = [{fx: x, fy: y} for x, y in points]
    else:
        entry[layout.polygon_field] = to_yaml_seq(points)
    return entry


def put_zone(zones: list[Any], layout: ZoneLayout, entry: CommentedMap) -> str:
    """Replace the zone of the same name, or add it; 'replaced' or 'added'."""
    key = layout.name_field
    for i, existing in enumerate(zones):
        if key and isinstance(existing, dict) and str(existing.get(key)) == str(entry.get(key)):
            for field, value in entry.items():
                existing[field] = value
            zones[i] = existing
            return "replaced"
    zones.append(entry)
    return "added"


def zone(
    camera: str = typer.Argument(..., help="Id of the camera in the station file."),
    config: Path = typer.Option(..., "--config", "-c", help="Station file (YAML); the zone is written into it."),
    points: str = typer.Option(..., "--points", help=POINTS_HELP),
    name: str = typer.Option("danger", "--name", help="Zone name; a zone of the same name is replaced."),
    png: Path = typer.Option(..., "--png", help="Where to write the frame with the zone drawn (PNG)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only draw the PNG; leave the station file alone."),
) -> None:
    """Capture a frame, set a danger zone of CAMERA, write it into the station file and draw it on a PNG."""
    console = make_console()
    with handled(console, config):
        polygon = parse_points(points)
        station_file = StationFile(config)
        cfg = parse_config(station_file.dump(), str(config))
        cam_cfg = next((c for c in cfg.cameras if c.id == camera), None)
        if cam_cfg is None:
            station_file.item("cameras", camera)  # raises, naming the known ids
            return
        with make_progress(console) as progress:
            progress.add_task(f"capturing a frame from {camera}", total=None)
            sample = snapshot(cam_cfg)
        layout = find_layout()
        others = [z for z in (zones_of(cam_cfg, layout) if layout else []) if z[0] != name]
        image = draw_zones(sample.last, [*others, (name, polygon)], highlight=name)
        png.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(png), image):
            raise ProvisioningError(f"cannot write {png}", "choose a --png path in a folder you can write, ending in .png")
        console.print(f"[green]wrote[/] {png} ({sample.width}x{sample.height}): zone {name!r} drawn in red; check it by eye")
        if dry_run:
            console.print("[bold]dry run:[/] the station file is unchanged")
            return
        if layout is None:
            raise ProvisioningError(
                "this gateway version's camera settings have no danger zones yet (gateway/config/vision.py)",
                "the PNG shows the zone; keep the --points and run this command again once the gateway supports zones",
                exit_code=3,
            )
        entry = station_file.item("cameras", camera)
        if cam_cfg.detection is None:
            raise ProvisioningError(
                f"camera {camera} has no person detector, and a danger zone needs one (the PNG is written)",
                f"install the detection model for it: stationctl model install MODEL --sha256 HEX --labels LABELS "
                f"--config {config} --camera {camera}; then run this command again",
                exit_code=2,
            )
        zones = zone_list(entry, layout, create=True)
        assert zones is not None
        what = put_zone(zones, layout, zone_entry(layout, name, polygon))
        station_file.save()
    console.print(f"[green]{what}[/] zone {name!r} of camera {camera} in {config} ({len(polygon)} corners, "
                  f"{polygon_area(polygon) * 100:.1f}% of the frame)")
    console.print("[bold]next:[/] restart the gateway to use it (systemctl restart station-gateway)")


def register(app: typer.Typer) -> None:
    app.command("zone")(zone)
