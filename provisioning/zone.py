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
from provisioning.i18n import LANG_OPTION, language, pick
from provisioning.station_file import StationFile, to_yaml_seq
from provisioning.ui import handled, make_console, make_progress
from provisioning.zone_config import ZoneLayout, find_layout, zone_list, zones_of
from provisioning.zone_draw import draw_zones, polygon_area

Point = tuple[float, float]
MIN_AREA = 1e-4  # a zone smaller than this fraction of the frame is a typo, not a zone
POINTS_HELP = 'Corners as normalized "x,y" pairs (0..1, origin top left), separated by spaces: "0.1,0.6 0.9,0.6 0.9,1 0.1,1".'
POINTS_HINT = ('区域角点写成 "x,y"（画面宽、高的比例 0..1，原点在左上角），用空格分开："0.1,0.6 0.9,0.6 0.9,1 0.1,1"', POINTS_HELP)
RESTART = ("[bold]下一步：[/]重启网关后生效（systemctl restart station-gateway）",
           "[bold]next:[/] restart the gateway to use it (systemctl restart station-gateway)")
WHAT_ZH = {"added": "已添加", "replaced": "已替换"}


def parse_points(text: str, lang: str = "zh") -> list[Point]:
    """`"x1,y1 x2,y2 ..."` as points; ProvisioningError naming the bad pair, in `lang`."""
    pairs = [p for p in re.split(r"[\s;]+", text.strip()) if p]
    points: list[Point] = []
    for pair in pairs:
        parts = pair.split(",")
        try:
            x, y = (float(v) for v in parts)
        except ValueError:
            raise ProvisioningError(pick(lang, (f"--points：{pair!r} 不是 x,y 形式", f"--points: {pair!r} is not x,y")),
                                    pick(lang, POINTS_HINT), exit_code=2) from None
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ProvisioningError(pick(lang, (f"--points：{pair!r} 超出画面（应在 0..1 之间）", f"--points: {pair!r} is outside the frame (0..1)")),
                                    pick(lang, ("坐标是画面宽、高的比例，不是像素", "give coordinates as fractions of the frame width and height, not pixels")),
                                    exit_code=2)
        points.append((round(x, 4), round(y, 4)))
    if len(points) < 3:
        raise ProvisioningError(pick(lang, (f"--points：区域至少要 3 个角点，现在只有 {len(points)} 个",
                                            f"--points: a zone needs at least 3 corners, got {len(points)}")),
                                pick(lang, POINTS_HINT), exit_code=2)
    if polygon_area(points) < MIN_AREA:
        raise ProvisioningError(pick(lang, ("--points：这个多边形（几乎）没有面积", "--points: the polygon has (almost) no area")),
                                pick(lang, ("检查角点的顺序和数值，应沿区域边缘绕一圈",
                                            "check the order and values of the corners; they should go round the zone")), exit_code=2)
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
    lang: str | None = LANG_OPTION,
) -> None:
    """Capture a frame, set a danger zone of CAMERA, write it into the station file and draw it on a PNG."""
    console, lg = make_console(), language(lang)
    with handled(console, config, lg):
        polygon = parse_points(points, lg)
        station_file = StationFile(config, lg)
        cfg = parse_config(station_file.dump(), str(config))
        cam_cfg = next((c for c in cfg.cameras if c.id == camera), None)
        if cam_cfg is None:
            station_file.item("cameras", camera)  # raises, naming the known ids
            return
        with make_progress(console) as progress:
            progress.add_task(pick(lg, (f"正在从 {camera} 抓取一帧画面", f"capturing a frame from {camera}")), total=None)
            sample = snapshot(cam_cfg)
        layout = find_layout()
        others = [z for z in (zones_of(cam_cfg, layout) if layout else []) if z[0] != name]
        image = draw_zones(sample.last, [*others, (name, polygon)], highlight=name)
        png.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(png), image):
            raise ProvisioningError(pick(lg, (f"无法写入 {png}", f"cannot write {png}")),
                                    pick(lg, ("--png 请给一个可写文件夹里、以 .png 结尾的路径",
                                              "choose a --png path in a folder you can write, ending in .png")))
        size = f"{sample.width}x{sample.height}"
        console.print(pick(lg, (f"[green]已写入[/] {png}（{size}）：区域 {name!r} 用红色画出，请目视核对",
                                f"[green]wrote[/] {png} ({size}): zone {name!r} drawn in red; check it by eye")))
        if dry_run:
            console.print(pick(lg, ("[bold]试运行：[/]站点文件未改动", "[bold]dry run:[/] the station file is unchanged")))
            return
        if layout is None:
            raise ProvisioningError(
                pick(lg, ("这个版本的网关，摄像头设置里还没有危险区域（gateway/config/vision.py）",
                          "this gateway version's camera settings have no danger zones yet (gateway/config/vision.py)")),
                pick(lg, ("PNG 上已画出区域；请保留这组 --points，等网关支持区域后再运行本命令",
                          "the PNG shows the zone; keep the --points and run this command again once the gateway supports zones")),
                exit_code=3,
            )
        entry = station_file.item("cameras", camera)
        if cam_cfg.detection is None:
            install = f"stationctl model install MODEL --sha256 HEX --labels LABELS --config {config} --camera {camera}"
            raise ProvisioningError(
                pick(lg, (f"摄像头 {camera} 没有人员检测器，危险区域需要它（PNG 已写出）",
                          f"camera {camera} has no person detector, and a danger zone needs one (the PNG is written)")),
                pick(lg, (f"先给它安装检测模型：{install}；然后再运行本命令",
                          f"install the detection model for it: {install}; then run this command again")),
                exit_code=2,
            )
        zones = zone_list(entry, layout, create=True)
        assert zones is not None
        what = put_zone(zones, layout, zone_entry(layout, name, polygon))
        station_file.save()
    share = f"{polygon_area(polygon) * 100:.1f}%"
    console.print(pick(lg, (f"[green]{WHAT_ZH.get(what, what)}[/] 摄像头 {camera} 的区域 {name!r}，已写入 {config}"
                            f"（{len(polygon)} 个角点，占画面 {share}）",
                            f"[green]{what}[/] zone {name!r} of camera {camera} in {config} ({len(polygon)} corners, {share} of the frame)")))
    console.print(pick(lg, RESTART))


def register(app: typer.Typer) -> None:
    app.command("zone")(zone)
