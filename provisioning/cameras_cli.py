"""`stationctl cameras probe|discover`: find a camera's stream URL without knowing its make.

`probe HOST` tries the RTSP paths of the common makes (`rtsp_paths`), `discover` asks the local
network for ONVIF cameras (WS-Discovery) and each camera for its stream URIs (ONVIF Media).
Both print a table and a `cameras:` block of the station file to paste, checked against the
gateway's own camera model; the password is never printed (`PASSWORD` stands in for it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer
import yaml
from rich.table import Table

from foundation.mqtt_login import read_password
from foundation.redact import redact
from gateway.config.vision import CameraConfig
from provisioning.cameras_discover import FoundCamera, discover
from provisioning.cameras_probe import PLACEHOLDER, StreamFound, explain, probe_host
from provisioning.errors import ProvisioningError
from provisioning.i18n import language, pick
from provisioning.onvif_media import OnvifStream, stream_uris
from provisioning.ui import handled, make_console

app = typer.Typer(help="Find IP cameras and their stream URLs (RTSP paths of common makes, ONVIF discovery).", no_args_is_help=True)

HEADERS = {"zh": ("厂家", "码流", "路径", "结果", "分辨率", "帧率"), "en": ("make", "stream", "path", "result", "resolution", "fps")}


def read_secret(password_file: Path | None) -> str | None:
    """The camera password from its file (never from the command line, where `ps` shows it)."""
    if password_file is None:
        return None
    try:
        return read_password(password_file, None)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvisioningError(f"cannot read the password file {password_file}: {exc}",
                                "write the camera's password alone in a file readable by you, then give it with --password-file", 2) from None


def snippet(entries: list[dict[str, Any]], note: str = "") -> str:
    """A `cameras:` block ready to paste, each entry validated by the gateway's camera model."""
    for entry in entries:
        CameraConfig.model_validate(entry)
    text = yaml.safe_dump({"cameras": entries}, allow_unicode=True, sort_keys=False, width=4096)
    return (note + text) if note else text


def probe_entry(rows: list[StreamFound], cam_id: str) -> tuple[dict[str, Any], StreamFound | None] | None:
    """The camera entry for the sub-stream of the first make that answered (and that make's main stream)."""
    opened = [r for r in rows if r.ok]
    if not opened:
        return None
    vendor = opened[0].vendor
    sub = next((r for r in opened if r.vendor == vendor and r.stream == "sub"), opened[0])
    main = next((r for r in opened if r.vendor == vendor and r.stream == "main" and r is not sub), None)
    entry = {"id": cam_id, "name": f"{vendor} {sub.width}x{sub.height}", "driver": {"type": "rtsp", "url": sub.url}}
    return entry, main


@app.command("probe")
def probe(
    host: str = typer.Argument(..., help="The camera's IP address or host name."),
    user: str | None = typer.Option(None, "--user", "-u", help="Camera login name (often admin)."),
    password_file: Path | None = typer.Option(None, "--password-file", help="File holding the camera password (never give it on the command line)."),
    port: int = typer.Option(554, min=1, max=65535, help="RTSP port."),
    channel: int = typer.Option(1, min=1, max=64, help="Channel (1 on a camera; the camera's number on a recorder/NVR)."),
    timeout_s: float = typer.Option(4.0, "--timeout", min=0.5, max=30, help="Seconds allowed per attempt."),
    cam_id: str = typer.Option("cam-1", "--id", help="Camera id written into the YAML snippet."),
    as_json: bool = typer.Option(False, "--json", help="Print the attempts as JSON on stdout."),
    lang: str | None = typer.Option(None, "--lang", help="zh (default) or en; default from LANG."),
) -> None:
    """Try the RTSP paths of Hikvision, Dahua, Uniview, TP-Link, EZVIZ, Huawei, Reolink; list what opens."""
    console = make_console(stderr=as_json)
    lg = language(lang)
    with handled(console, lang=lg):
        password = read_secret(password_file)
        if password and not user:
            raise ProvisioningError("--password-file needs --user", "add --user NAME (often admin)", 2)
        with console.status(pick(lg, ("正在尝试各厂家的路径...", "trying the makes' paths..."))) as status:
            unreachable, rows = probe_host(host, port, user, password, channel, timeout_s,
                                           say=lambda s: status.update(redact(s)))
        if unreachable is not None:
            raise ProvisioningError(
                pick(lg, (f"连不上摄像头：{unreachable}", f"cannot reach the camera: {unreachable}")),
                pick(lg, ("检查摄像头电源、网线和 IP 地址（ping 它）；RTSP 端口不是 554 时加 --port",
                          "check the camera's power, cable and address (ping it); add --port when RTSP is not on 554")), 1)
    if as_json:
        typer.echo(json.dumps({"host": host, "port": port, "attempts": [r.to_dict() for r in rows]}, ensure_ascii=False, indent=2))
    else:
        table = Table(title=f"RTSP {host}:{port}")
        for head in HEADERS[lg]:
            table.add_column(head, overflow="fold")
        any_ok = any(r.ok for r in rows)
        for r in rows:
            result = "[green]OK[/]" if r.ok else f"[dim]{explain(r, lg == 'zh', bool(user), any_ok)}[/]"
            table.add_row(r.vendor, r.stream, r.path, result, f"{r.width}x{r.height}" if r.ok else "", f"{r.fps:g}" if r.ok else "")
        console.print(table)
    found = probe_entry(rows, cam_id)
    if found is None:
        console.print(pick(lg, ("[bold red]没有一个路径能打开。[/]", "[bold red]no path opened.[/]")))
        if any(r.status == 401 for r in rows):
            console.print(pick(lg, ("[bold]下一步：[/]摄像头需要登录（401）：加 --user 和 --password-file，核对用户名和密码",
                                    "[bold]next:[/] the camera needs a login (401): add --user and --password-file, and check both")))
            raise typer.Exit(1)
        console.print(pick(lg, ("[bold]下一步：[/]用 stationctl cameras discover 查 ONVIF 地址，或在摄像头网页/说明书里查 RTSP 路径",
                                "[bold]next:[/] try stationctl cameras discover (ONVIF), or look up the RTSP path in the camera's web page or manual")))
        raise typer.Exit(1)
    entry, main = found
    note = pick(lg, ("# 粘贴到站点文件（子码流：解码省 CPU）", "# paste into the station file (sub-stream: cheaper to decode)")) + "\n"
    if main is not None:
        note += pick(lg, (f"# 主码流（远处落水者像素更多，更费 CPU）：{main.url}\n", f"# main stream (more pixels for far swimmers, more CPU): {main.url}\n"))
    if PLACEHOLDER in str(entry["driver"]["url"]):
        note += pick(lg, (f"# 把 {PLACEHOLDER} 换成摄像头密码（密码不会被打印）\n", f"# replace {PLACEHOLDER} with the camera's password (it is never printed)\n"))
    console.print(snippet([entry], note), markup=False, highlight=False)


def with_login(uri: str, user: str | None, password: str | None) -> str:
    """A camera's RTSP URI with the login put in (PASSWORD in place of the password), as the driver needs it."""
    scheme, sep, rest = uri.partition("://")
    if not sep or not user or "@" in rest.split("/", 1)[0]:
        return uri
    return f"{scheme}://{quote(user, safe='')}{':' + PLACEHOLDER if password else ''}@{rest}"


def discover_entries(found: list[tuple[FoundCamera, list[OnvifStream]]], user: str | None, password: str | None) -> list[dict[str, Any]]:
    """One camera entry per camera that gave its URIs: the smallest profile (the sub-stream)."""
    entries = []
    for i, (cam, streams) in enumerate((f for f in found if f[1]), start=1):
        sub = min(streams, key=lambda s: (s.width * s.height) or 1 << 40)
        name = " ".join(x for x in (cam.name, cam.hardware) if x) or cam.host
        entries.append({"id": f"cam-{i}", "name": f"{name} {sub.width}x{sub.height}".strip(),
                        "driver": {"type": "rtsp", "url": with_login(sub.uri, user, password)}})
    return entries


@app.command("discover")
def discover_command(
    user: str | None = typer.Option(None, "--user", "-u", help="ONVIF login name (often admin)."),
    password_file: Path | None = typer.Option(None, "--password-file", help="File holding the camera password."),
    timeout_s: float = typer.Option(3.0, "--timeout", min=0.5, max=30, help="Seconds to wait for answers, and per ONVIF request."),
    address: str | None = typer.Option(None, "--address", help="Ask only this address (unicast; for a camera in another subnet)."),
    wsd_port: int = typer.Option(3702, "--wsd-port", min=1, max=65535, help="WS-Discovery port of --address."),
    as_json: bool = typer.Option(False, "--json", help="Print the cameras and their streams as JSON on stdout."),
    lang: str | None = typer.Option(None, "--lang", help="zh (default) or en; default from LANG."),
) -> None:
    """Find ONVIF cameras on the local network (WS-Discovery) and ask each for its stream URIs."""
    console = make_console(stderr=as_json)
    lg = language(lang)
    with handled(console, lang=lg):
        password = read_secret(password_file)
        with console.status(pick(lg, ("正在查找 ONVIF 摄像头...", "looking for ONVIF cameras..."))):
            cameras = discover(timeout_s, address, wsd_port)
        found: list[tuple[FoundCamera, list[OnvifStream]]] = []
        problems: dict[str, str] = {}
        for cam in cameras:
            found.append((cam, []))
            for xaddr in cam.xaddrs:  # a camera may announce several addresses (IPv4, IPv6, a second NIC)
                try:
                    found[-1] = (cam, stream_uris(xaddr, user, password, timeout_s))
                    problems.pop(cam.epr, None)
                    break
                except ProvisioningError as exc:
                    problems[cam.epr] = pick(lg, (f"{exc}（下一步：{exc.hint}）", f"{exc} (next: {exc.hint})"))
    if as_json:
        typer.echo(json.dumps([{**c.to_dict(), "streams": [s.to_dict() for s in st], "error": problems.get(c.epr, "")}
                               for c, st in found], ensure_ascii=False, indent=2))
    if not cameras:
        console.print(pick(lg, ("[bold red]没有摄像头应答。[/]", "[bold red]no camera answered.[/]")))
        console.print(pick(lg, ("[bold]下一步：[/]确认摄像头与本机在同一网段、网页里已开启 ONVIF；跨网段时用 --address IP，或用 stationctl cameras probe IP",
                                "[bold]next:[/] check the camera is on this subnet with ONVIF switched on; across subnets use --address IP, or stationctl cameras probe IP")))
        raise typer.Exit(1)
    if not as_json:
        table = Table(title="ONVIF")
        for head in pick(lg, ("地址|名称|配置|RTSP 地址|分辨率|帧率", "address|name|profile|RTSP URI|resolution|fps")).split("|"):
            table.add_column(head, overflow="fold")
        for cam, streams in found:
            label = " ".join(x for x in (cam.name, cam.hardware) if x)
            if not streams:
                table.add_row(cam.host, label, "", f"[red]{redact(problems.get(cam.epr, ''))}[/]", "", "")
            for st in streams:
                table.add_row(cam.host, label, st.name, redact(st.uri), f"{st.width}x{st.height}", f"{st.fps:g}")
        console.print(table)
    entries = discover_entries(found, user, password)
    if not entries:
        raise typer.Exit(1)
    note = pick(lg, ("# 粘贴到站点文件（每个摄像头取最小的配置，即子码流）", "# paste into the station file (each camera's smallest profile: the sub-stream)")) + "\n"
    if password:
        note += pick(lg, (f"# 把 {PLACEHOLDER} 换成摄像头密码（密码不会被打印）\n", f"# replace {PLACEHOLDER} with the camera's password (it is never printed)\n"))
    console.print(snippet(entries, note), markup=False, highlight=False)
    if problems:
        raise typer.Exit(1)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="cameras")
