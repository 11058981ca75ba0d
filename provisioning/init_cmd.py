"""`stationctl init`: write a station file from flags, or by asking the technician.

The file is validated by the gateway's own loader before it is written, so what `init` writes
always passes `stationctl validate`; a file that does not validate, or an interview cut short, is
kept as a draft beside it (`station.draft.yaml`) and the technician is told where. Interactive
answers are checked as they are typed (`init_answers`), so one typo is asked again, not fatal.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer
import yaml

from foundation.atomic_file import write_atomic
from foundation.errors import ConfigError
from gateway.config.station import parse_config
from provisioning import init_answers as answers
from provisioning import init_prompts as ask
from provisioning import init_spec as spec
from provisioning import site_templates as sites
from provisioning.errors import ProvisioningError
from provisioning.i18n import language, pick
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
    town_name: str = typer.Option("", help="Human name of the township (e.g. 小旗乡), sent to the county in the birth message."),
    village_name: str = typer.Option("", help="Human name of the village (e.g. 竹洼村), sent to the county in the birth message."),
    lat: float | None = typer.Option(None, min=-90, max=90, help="Latitude in degrees (WGS 84), for the county's map; give --lon too."),
    lon: float | None = typer.Option(None, min=-180, max=180, help="Longitude in degrees (WGS 84), for the county's map."),
    broker: str = typer.Option("127.0.0.1:1883", help="County broker as HOST[:PORT]."),
    tls_ca: Path | None = typer.Option(None, help="CA file of the broker's certificate (turns TLS on)."),
    username: str | None = typer.Option(None, help="MQTT user name."),
    password_file: Path | None = typer.Option(None, help="File holding the MQTT password."),
    data_dir: str = typer.Option("/var/lib/station-gateway", help="Folder of the outbox database."),
    water: list[str] = typer.Option([], "--water", help=WATER_HELP),
    fire: list[str] = typer.Option([], "--fire", help=FIRE_HELP),
    camera: list[str] = typer.Option([], "--camera", help=CAMERA_HELP),
    speaker: str | None = typer.Option(None, "--speaker", help=SPEAKER_HELP),
    site: str | None = typer.Option(None, "--site", help="Site template: pond, river (ford/low-water bridge) or forest (edge); sets the warning words and what is asked first."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Ask for everything (the default on a terminal when identity flags are missing)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    lang: str | None = typer.Option(None, "--lang", help="Language of the questions: zh (default) or en; default from LANG."),
) -> None:
    """Write a station file from flags, or interactively; the result passes `stationctl validate`."""
    console = make_console()
    lg = language(lang)
    with handled(console, out, lg):
        if out.exists() and not force:
            raise ProvisioningError(f"{out} exists", "choose another --out, or add --force to overwrite it", exit_code=2)
        identity = {"county": county, "town": town, "village": village, "id": station_id, "name": name,
                    "town_name": town_name, "village_name": village_name, "lat": lat, "lon": lon}
        missing = [k for k in ("county", "town", "village", "id") if not identity[k]]
        asking = interactive or (bool(missing) and sys.stdin.isatty())
        if missing and not asking:
            flags = ", ".join("--id" if k == "id" else f"--{k}" for k in missing)
            raise ProvisioningError(f"missing {flags}", f"give {flags}, or run `stationctl init --interactive` to be asked", exit_code=2)
        host, port = spec.parse_broker(broker)
        parts: dict[str, Any] = {
            "identity": identity, "host": host, "port": port, "tls_ca": tls_ca, "username": username, "password_file": password_file,
            "water": [spec.parse_spec(s, "water sensor") for s in water], "fire": [spec.parse_spec(s, "fire input") for s in fire],
            "camera": [spec.parse_spec(s, "camera") for s in camera], "speaker": spec.parse_spec(speaker, "loudspeaker") if speaker else None,
            "site": sites.load(site) if site else None,
        }
        if asking:
            try:
                interview(parts, out, lg)
            except typer.Abort:
                draft = keep_draft(parts, data_dir, out)
                raise ProvisioningError(pick(lg, (f"已中断；已答内容保存在草稿 {draft}", f"interrupted; the answers so far are kept in the draft {draft}")),
                                        pick(lg, (f"在草稿里补全后：stationctl validate {draft}，再改名为 {out}",
                                                  f"complete the draft, check it with stationctl validate {draft}, then rename it to {out}")), 2) from None
        doc = build_parts(parts, data_dir)
        text = render(doc, out)
        try:
            cfg = parse_config(text, str(out))
        except ConfigError as exc:
            draft = draft_path(out)
            draft.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(draft, text)
            raise ProvisioningError(f"{exc}\n" + pick(lg, (f"没有写 {out}；草稿保存在 {draft}", f"{out} was not written; the draft is kept at {draft}")),
                                    pick(lg, (f"改好草稿里上面指出的字段，用 stationctl validate {draft} 检查，再改名为 {out}",
                                              f"fix the field(s) named above in {draft}, check it with stationctl validate {draft}, then rename it to {out}")), 2) from None
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, text)
    console.print(
        f"[green]wrote[/] {out}: station {cfg.station.path}, {len(cfg.water_sensors)} water sensor(s), "
        f"{len(cfg.fire_inputs)} fire input(s), {len(cfg.cameras)} camera(s), "
        f"loudspeaker {'yes' if cfg.loudspeaker else 'no'}"
    )
    console.print(f"[bold]next:[/] stationctl check --config {out}")


def draft_path(out: Path) -> Path:
    """Where a station file that could not be finished is kept: beside it, `.draft` before the suffix."""
    return out.with_name(f"{out.stem}.draft{out.suffix or '.yaml'}")


def keep_draft(parts: dict[str, Any], data_dir: str, out: Path) -> Path:
    """Write what has been answered so far, as a station file if it builds, else as plain answers."""
    draft = draft_path(out)
    try:
        text = render(build_parts(parts, data_dir), out)
    except (ProvisioningError, KeyError, TypeError, ValueError):
        plain = {k: (str(v) if isinstance(v, Path) else v) for k, v in parts.items() if k != "site"}
        text = "# answers of an unfinished `stationctl init --interactive`\n" + yaml.safe_dump(plain, allow_unicode=True, sort_keys=False)
    draft.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(draft, text)
    return draft


def interview(parts: dict[str, Any], out: Path, lg: str) -> None:
    """Ask for everything, filling `parts` as the answers come (so an interruption loses nothing)."""
    if parts["site"] is None:
        keys = sites.names()
        sep = pick(lg, ("；", "; "))
        typer.echo(pick(lg, ("站点类型：", "Kind of site: ")) + sep.join(f"{k} = {sites.load(k).name[lg]}" for k in keys) + f"{sep}other")
        chosen = ask.choose(pick(lg, ("站点类型", "Kind of site")), [*keys, "other"], "other")
        parts["site"] = sites.load(chosen) if chosen != "other" else None
    template = parts["site"]
    identity = parts["identity"]
    words = {"county": ("县（区）代码", "County code"), "town": ("乡镇代码", "Township code"), "village": ("村代码", "Village code"),
             "id": ("站点编号", "Station id")}
    for key in ("county", "town", "village", "id"):
        identity[key] = typer.prompt(pick(lg, words[key]), default=identity[key] or None, value_proc=answers.level(lg, pick(lg, words[key])))
    identity["name"] = typer.prompt(pick(lg, ("站点名称（可用中文，显示给值班人员）", "Station name (shown to operators)")), default=identity["name"] or "", show_default=False)
    parts["host"], parts["port"] = typer.prompt(pick(lg, ("县平台 MQTT 地址 主机:端口", "County broker HOST:PORT")),
                                                default=f"{parts['host']}:{parts['port']}", value_proc=answers.broker(lg))
    ask_tls(parts, lg)
    taken: set[str] = set()
    order = list(template.ask) if template else []
    order += [k for k in ("water", "fire", "camera") if k not in order]
    for kind in order:
        first = kind in (template.ask if template else ())
        if kind == "water":
            parts["water"] += ask.ask_water_sensors(lg, taken, first, (template.rules.get("rise_rate_m_per_min") if template else None))
        elif kind == "fire":
            parts["fire"] += ask.ask_fire_inputs(lg, taken, first)
        else:
            parts["camera"] += ask.ask_cameras(lg, taken, first, template.camera_watch if template else "person", out)
    if parts["speaker"] is None:
        parts["speaker"] = ask.ask_loudspeaker(lg)


def ask_tls(parts: dict[str, Any], lg: str) -> None:
    """TLS towards the county broker (port 8883): its CA file, and the station's login."""
    if parts["tls_ca"] is None and typer.confirm(pick(lg, ("使用 TLS 加密连接（端口 8883）?", "Use TLS (port 8883)?")), default=parts["port"] == 8883):
        if parts["port"] == 1883:
            parts["port"] = 8883
            typer.echo(pick(lg, ("  端口改为 8883", "  port set to 8883")))
        parts["tls_ca"] = Path(typer.prompt(pick(lg, ("  县平台证书的 CA 文件（PEM，站点上的路径）", "  CA file of the broker's certificate (PEM, path on the station)")),
                                            default="/etc/station-gateway/ca.pem"))
    if parts["username"] is None:
        user = typer.prompt(pick(lg, ("  MQTT 用户名（留空：无）", "  MQTT user name (empty: none)")), default="", show_default=False).strip()
        if user:
            parts["username"] = user
            if parts["password_file"] is None:
                parts["password_file"] = Path(typer.prompt(pick(lg, ("  MQTT 密码文件（站点上的路径）", "  MQTT password file (path on the station)")),
                                                           default="/etc/station-gateway/mqtt-password"))


def build_parts(parts: dict[str, Any], data_dir: str) -> dict[str, Any]:
    template = parts.get("site")
    return build(parts["identity"], parts["host"], parts["port"], parts["tls_ca"], parts["username"], parts["password_file"], data_dir,
                 parts["water"], parts["fire"], parts["camera"], parts["speaker"], template)


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
    template: sites.SiteTemplate | None = None,
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
    kinds = spec.alarm_kinds(water_docs, fire_docs, camera_docs)
    speaker_doc = spec.loudspeaker(speaker, kinds, sites.actions(template, kinds) if template else None) if speaker else None
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
