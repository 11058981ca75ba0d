"""`stationctl suppressions list|clear`: the county's "false alarm here" regions of this station.

Reads and writes the same file as the gateway (`<outbox stem>-suppressions.json` beside the
outbox); the running gateway sees a change within a frame, no restart needed. Regions are
fractions of the camera frame (x1, y1, x2, y2); times are local.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import typer

from gateway.config.station import load_config
from gateway.vision.suppressions import SuppressionStore, suppressions_path
from provisioning.i18n import language, pick
from provisioning.ui import handled, make_console

app = typer.Typer(help="List and clear the county's false-alarm suppressions (camera fire/smoke regions).", no_args_is_help=True)

CONFIG = typer.Option(..., "--config", "-c", help="Station config (YAML).")
CAMERA = typer.Option(None, "--camera", help="Only this camera id.")
LANG = typer.Option(None, "--lang", help="zh (default) or en; default from LANG.")
HEADERS = {"zh": ("摄像头", "类型", "区域（x1, y1, x2, y2）", "有效至", "告警编号"),
           "en": ("camera", "kind", "region (x1, y1, x2, y2)", "until", "event_id")}
KIND_ZH = {"fire": "火", "smoke": "烟"}


def _store(config: Path) -> SuppressionStore:
    return SuppressionStore(suppressions_path(load_config(config).outbox.path))


@app.command("list")
def list_command(config: Path = CONFIG, camera: str | None = CAMERA, lang: str | None = LANG) -> None:
    """Show the suppressions in force (camera, fire or smoke, region, until when)."""
    console, lg = make_console(), language(lang)
    with handled(console, config, lg):
        store = _store(config)
        items = store.items(time.time(), camera)
        if store.problem:
            console.print(pick(lg, (f"警告：文件已损坏，已另存为 .bad：{store.problem}", f"warning: {store.problem}")))
        if not items:
            console.print(pick(lg, ("没有生效的误报屏蔽。", "No false-alarm suppression in force.")))
            return
        # one plain line each (no table): never cut on a narrow terminal, easy to copy an event_id from
        console.print(" | ".join(HEADERS[lg]))
        for s in sorted(items, key=lambda s: (s.camera, s.until)):
            kind = KIND_ZH.get(s.kind, s.kind) if lg == "zh" else s.kind
            until = datetime.fromtimestamp(s.until).astimezone().strftime("%Y-%m-%d %H:%M %Z")
            console.print(f"{s.camera} | {kind} | {', '.join(f'{v:.2f}' for v in s.region)} | {until} | {s.event_id}", markup=False)
        console.print(pick(lg, (f"共 {len(items)} 条。", f"{len(items)} in force.")))


@app.command("clear")
def clear_command(config: Path = CONFIG, camera: str | None = CAMERA, lang: str | None = LANG) -> None:
    """Remove the suppressions (of one camera with --camera, else all): those spots can raise fire/smoke again."""
    console, lg = make_console(), language(lang)
    with handled(console, config, lg):
        gone = _store(config).clear(time.time(), camera)
        where = camera or pick(lg, ("所有摄像头", "all cameras"))
        console.print(pick(lg, (f"已清除 {gone} 条误报屏蔽（{where}）。", f"Cleared {gone} suppression(s) ({where}).")))


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="suppressions")
