"""`stationctl report`: the commissioning report the county archives.

It runs the full self-test, draws each camera's danger zones (one colour each) and the people its
detector found on its snapshot, and writes
`report.json` (machine-readable, for the county's records) and `report.html` (one
self-contained page with the pictures embedded, for people; Chinese unless `--lang en`), plus the
snapshots themselves.
Both leave the station, so camera logins are masked in every string of the report, the
station file's text included (`foundation.redact`, as `stationctl check` prints them).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import cv2
import typer

from foundation.atomic_file import write_atomic
from foundation.redact import redact_doc
from gateway import __version__
from gateway.config.station import StationConfig, load_config
from provisioning.check import STEPS, CheckOptions, meta, run_checks
from provisioning.i18n import language, pick
from provisioning.probes.speaker import TEST_PHRASE
from provisioning.report_render import render_html
from provisioning.results import CheckResult, counts, overall_ok, render_table, to_json
from provisioning.ui import handled, make_console
from provisioning.zone_config import find_layout, zones_of
from provisioning.zone_draw import draw_report, zone_colour


def devices(cfg: StationConfig) -> list[dict[str, Any]]:
    """What is installed, one row per device, with the settings a county engineer asks about."""
    rows: list[dict[str, Any]] = []
    for w in cfg.water_sensors:
        d = w.driver
        where = getattr(d, "port", "") or "scenario"
        rows.append({"kind": "water level", "id": w.id, "name": w.name, "driver": d.type, "where": where,
                     "settings": {"warning_m": w.rules.warning_m, "danger_m": w.rules.danger_m,
                                  **{k: getattr(d, k) for k in ("mount_height_m", "offset", "slave_id", "address") if getattr(d, k, None) is not None}}})
    for f in cfg.fire_inputs:
        d = f.driver
        where = getattr(d, "pin", None) or getattr(d, "channel", None)
        rows.append({"kind": f.kind, "id": f.id, "name": f.name, "driver": d.type,
                     "where": f"pin {where}" if getattr(d, "pin", None) is not None else (f"channel {where}" if where is not None else "schedule"),
                     "settings": {"debounce_s": f.debounce_s}})
    for c in cfg.cameras:
        rows.append({"kind": "camera", "id": c.id, "name": c.name, "driver": c.driver.type,
                     "where": str(getattr(c.driver, "path", "") or getattr(c.driver, "url", "")), "settings": {}})
    if cfg.loudspeaker is not None:
        d = cfg.loudspeaker.driver
        rows.append({"kind": "loudspeaker", "id": "loudspeaker", "name": "", "driver": d.type,
                     "where": str(getattr(d, "device", "") or getattr(d, "record_dir", "")),
                     "settings": {"actions": [a.alarm for a in cfg.loudspeaker.actions]}})
    return rows


def camera_urls(cfg: StationConfig) -> list[str]:
    """The cameras' stream URLs, whose logins the report masks."""
    return [str(url) for c in cfg.cameras if (url := getattr(c.driver, "url", None))]


def hex_colour(bgr: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*reversed(bgr))


def camera_views(cfg: StationConfig, results: list[CheckResult], out: Path) -> list[dict[str, Any]]:
    """Per camera: its snapshot, the picture with its zones (one colour each) and the people found, the zones' corners."""
    layout = find_layout()
    rows = {r.target: r for r in results if r.check == "camera"}
    views = []
    for cam in cfg.cameras:
        zones = zones_of(cam, layout) if layout is not None else []
        row = rows.get(cam.id)
        snap = row.artifacts.get("snapshot") if row is not None else None
        boxes = list(row.values.get("boxes") or []) if row is not None else []
        view: dict[str, Any] = {"id": cam.id, "name": cam.name, "snapshot": snap, "zones_png": None, "boxes": boxes,
                                "zones": [{"name": n, "polygon": [list(p) for p in pts], "colour": hex_colour(zone_colour(i))}
                                          for i, (n, pts) in enumerate(zones)]}
        if snap and (zones or boxes):
            image = cv2.imread(snap, cv2.IMREAD_COLOR)
            if image is not None:
                png = out / "zones" / f"{cam.id}.png"
                png.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(png), draw_report(image, zones, boxes))
                view["zones_png"] = str(png)
        views.append(view)
    return views


def relative(doc: Any, base: Path) -> Any:
    """Paths under the report folder written relative to it, so the folder can be moved whole."""
    if isinstance(doc, dict):
        return {k: relative(v, base) for k, v in doc.items()}
    if isinstance(doc, list):
        return [relative(v, base) for v in doc]
    if isinstance(doc, str) and doc.startswith(str(base) + "/"):
        return doc[len(str(base)) + 1:]
    return doc


def report(
    config: Path = typer.Option(..., "--config", "-c", help="Station file (YAML)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for report.json, report.html and the pictures."),
    technician: str = typer.Option("", "--technician", help="Who commissioned the station (printed on the report)."),
    samples: int = typer.Option(5, min=1, max=50, help="Readings per water sensor and fire input."),
    frames: int = typer.Option(10, min=2, max=300, help="Frames per camera."),
    sound: bool = typer.Option(True, "--sound/--no-sound", help="Play the test phrase on the loudspeaker."),
    lang: str = typer.Option("zh", "--lang", help="Language of the HTML page: zh (default, the county's archive) or en."),
) -> None:
    """Run the self-test and write the commissioning report (JSON and HTML) for the county's archive."""
    console, lg = make_console(), language(lang)  # --lang defaults to zh here: the county archives the Chinese page
    with handled(console, config, lg):
        cfg = load_config(config)
        out = out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        opts = CheckOptions(samples, frames, out / "snapshots", TEST_PHRASE, sound, set(STEPS))
        started = time.monotonic()
        results = run_checks(cfg, opts, console, lg)
        config_text = config.read_text(encoding="utf-8")
        doc: dict[str, Any] = {
            **meta(cfg, config),
            "report_version": 1,
            "gateway_version": __version__,
            "technician": technician,
            "duration_s": round(time.monotonic() - started, 1),
            "config_sha256": hashlib.sha256(config_text.encode()).hexdigest(),
            "devices": devices(cfg),
            "cameras": camera_views(cfg, results, out),
        }
        summary = json.loads(to_json(results, {}))
        doc.update(ok=summary["ok"], counts=summary["counts"], results=summary["results"], config_text=config_text)
        doc = redact_doc(relative(doc, out), camera_urls(cfg))
        write_atomic(out / "report.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        write_atomic(out / "report.html", render_html(doc, out, lg))
    render_table(console, results, pick(lg, (f"{cfg.station.path} 站点调试", f"commissioning of {cfg.station.path}")), lg)
    json_file, html_file = out / "report.json", out / "report.html"
    console.print(pick(lg, (f"[green]已写入[/] {json_file} 和 {html_file}", f"[green]wrote[/] {json_file} and {html_file}")))
    if not overall_ok(results):
        failed = counts(results)["fail"]
        console.print(pick(lg, (f"[bold]下一步：[/]{failed} 项检查失败：修好后重新生成报告，再移交站点",
                                f"[bold]next:[/] {failed} check(s) failed: fix them and run the report again before handing the station over")))
        raise typer.Exit(1)
    console.print(pick(lg, ("[bold]下一步：[/]把报告文件夹发给县里存档", "[bold]next:[/] send the report folder to the county for its archive")))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
