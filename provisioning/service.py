"""`stationctl install-service`: run the gateway under systemd, watched and gentle on the SD card.

The unit is `Type=notify`: the gateway says READY=1 once its loops run, and pings WATCHDOG=1
only while every loop beats, so a wedged loop gets the process restarted. `Restart=always`
with a start limit keeps a crash-looping gateway from hammering the card, and a journald
drop-in keeps logs in RAM (or capped on disk) and rate-limited, so months of unattended logging
do not wear the SD card out.
"""

from __future__ import annotations

import grp
import math
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from foundation.atomic_file import write_atomic
from gateway.config.station import StationConfig, load_config
from provisioning.errors import ProvisioningError
from provisioning.i18n import LANG_OPTION, language, pick
from provisioning.ui import handled, make_console

UNIT_NAME = "station-gateway.service"
DEFAULT_CONFIG = Path("/etc/station-gateway/station.yaml")
HARDWARE_GROUPS = ("dialout", "gpio", "spi", "i2c", "audio", "video")


@dataclass(frozen=True)
class ServiceOptions:
    """Everything the unit file depends on."""

    exec_start: str
    config: Path
    watchdog_s: int
    user: str | None = None
    groups: tuple[str, ...] = ()
    restart_sec: int = 5
    start_limit_burst: int = 10
    start_limit_interval_s: int = 900
    update_guard: str | None = None  # <root>/update-guard of a bundle install: rolls back a software update that cannot start


def gateway_executable(lang: str = "zh") -> str:
    """The `station-gateway` script of this installation (absolute: systemd has no PATH search of venvs)."""
    beside = Path(sys.executable).parent / "station-gateway"
    if beside.exists():
        return str(beside)
    found = shutil.which("station-gateway")
    if found is None:
        raise ProvisioningError(pick(lang, ("本机没有安装 station-gateway", "station-gateway is not installed here")),
                                pick(lang, ("先在这个环境里安装软件包（pip install .）", "install the package (pip install .) in this environment first")))
    return str(Path(found).resolve())


def watchdog_for(cfg: StationConfig) -> int:
    """WatchdogSec for this config: several of the gateway's ping periods (it pings every
    min(5 s, loop_stall_s / 3) while no loop is stalled), so one late ping never kills it."""
    ping = min(5.0, cfg.health.loop_stall_s / 3)
    return max(30, math.ceil(ping * 6))


def unit_text(o: ServiceOptions) -> str:
    guard = ""
    if o.update_guard:  # "-": the guard never fails a start; the system python3, so a broken venv cannot break it
        guard = f"ExecStartPre=-/usr/bin/python3 {o.update_guard} {Path(o.update_guard).parent}\n"
    user = ""
    if o.user:
        user = f"User={o.user}\n" + (f"SupplementaryGroups={' '.join(o.groups)}\n" if o.groups else "")
    return f"""\
# Written by `stationctl install-service`; run it again rather than editing this file.
[Unit]
Description=Village station gateway ({o.config})
Wants=network-online.target time-sync.target
After=network-online.target time-sync.target
# Restarted {o.restart_sec} s after any exit or a missed watchdog ping; a gateway that still crash-loops
# ({o.start_limit_burst} starts in {o.start_limit_interval_s} s) reboots the station, which resets USB, camera
# and modem state, instead of staying down until someone climbs the pole.
StartLimitIntervalSec={o.start_limit_interval_s}
StartLimitBurst={o.start_limit_burst}
StartLimitAction=reboot

[Service]
Type=notify
NotifyAccess=main
{guard}ExecStart={o.exec_start} run --config {o.config}
WatchdogSec={o.watchdog_s}
Restart=always
RestartSec={o.restart_sec}
TimeoutStartSec=90
TimeoutStopSec=30
{user}StateDirectory=station-gateway
CacheDirectory=station-gateway
WorkingDirectory=/var/lib/station-gateway
Environment=PYTHONUNBUFFERED=1
# Per-service log rate limit: a fault that logs in a tight loop must not flood the journal.
LogRateLimitIntervalSec=30s
LogRateLimitBurst=1000

[Install]
WantedBy=multi-user.target
"""


def journald_text(persistent: bool) -> str:
    storage = (
        "Storage=persistent\nSystemMaxUse=64M\nSystemMaxFileSize=8M\nSyncIntervalSec=15m\n"
        if persistent
        else "Storage=volatile\n"
    )
    return f"""\
# Written by `stationctl install-service`: logs {'capped on disk, written rarely' if persistent else 'kept in RAM only'}, to spare the SD card.
[Journal]
{storage}RuntimeMaxUse=32M
RateLimitIntervalSec=30s
RateLimitBurst=2000
MaxRetentionSec=1month
"""


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def systemctl(args: list[str], lang: str = "zh") -> None:
    exe = shutil.which("systemctl")
    if exe is None:
        raise ProvisioningError(pick(lang, ("找不到 systemctl", "systemctl not found")),
                                pick(lang, ("本系统没有运行 systemd；请用别的方式启动网关，或加 --no-enable",
                                            "this system does not run systemd; start the gateway another way, or use --no-enable")))
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        why, cmd = (done.stderr or done.stdout).strip(), f"systemctl {' '.join(args)}"
        raise ProvisioningError(pick(lang, (f"{cmd} 失败：{why}", f"{cmd} failed: {why}")),
                                pick(lang, ("看上面的信息；用 root 运行本命令", "read the message above; run the command as root")))


def install_service(
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Station file the service runs with."),
    root: Path = typer.Option(Path("/"), "--root", help="Install into this root (an SD card image mounted elsewhere)."),
    unit_dir: Path | None = typer.Option(None, "--unit-dir", help="Folder for the unit (default: ROOT/etc/systemd/system)."),
    journald_dir: Path | None = typer.Option(None, "--journald-dir", help="Folder for the journald drop-in (default: ROOT/etc/systemd/journald.conf.d)."),
    enable: bool = typer.Option(True, "--enable/--no-enable", help="Enable the service at boot."),
    now: bool = typer.Option(False, "--now", help="Also (re)start it now (needs a running systemd)."),
    user: str | None = typer.Option(None, "--user", help="Run as this user (default root), with the hardware groups that exist."),
    watchdog_s: int | None = typer.Option(None, "--watchdog-sec", min=10, help="WatchdogSec (default: from health.loop_stall_s)."),
    persistent_journal: bool = typer.Option(False, "--persistent-journal", help="Keep logs across reboots (capped at 64 MB, synced every 15 min)."),
    exec_path: str | None = typer.Option(None, "--exec", help="Path of station-gateway on the station (default: this installation's)."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Write the systemd unit (Type=notify, watchdog, restart policy) and a journald drop-in; enable it."""
    console, lg = make_console(), language(lang)
    with handled(console, config, lg):
        config = config.resolve() if root == Path("/") else config
        cfg = load_config(config if root == Path("/") else root / str(config).lstrip("/"))
        groups = tuple(g for g in HARDWARE_GROUPS if _group_exists(g)) if user else ()
        opts = ServiceOptions(exec_path or gateway_executable(lg), config, watchdog_s or watchdog_for(cfg), user, groups)
        units = unit_dir or root / "etc/systemd/system"
        journald = journald_dir or root / "etc/systemd/journald.conf.d"
        for folder in (units, journald):
            folder.mkdir(parents=True, exist_ok=True)
        unit_path = units / UNIT_NAME
        write_atomic(unit_path, unit_text(opts), mode=0o644)
        dropin = journald / "50-station-gateway.conf"
        write_atomic(dropin, journald_text(persistent_journal), mode=0o644)
        console.print(pick(lg, (f"[green]已写入[/] {unit_path}（WatchdogSec={opts.watchdog_s}）和 {dropin}",
                                f"[green]wrote[/] {unit_path} (WatchdogSec={opts.watchdog_s}) and {dropin}")))
        if root == Path("/"):
            for complaint in verify_unit(unit_path):
                console.print(f"[yellow]systemd-analyze:[/] {complaint}")
        if enable:
            if root != Path("/"):
                systemctl([f"--root={root}", "enable", UNIT_NAME], lg)
            elif unit_dir is not None:
                systemctl(["enable", str(unit_path)], lg)  # links a unit outside the search path, then enables it
            else:
                systemctl(["enable", UNIT_NAME], lg)
            console.print(pick(lg, (f"[green]已设为开机启动[/] {UNIT_NAME}", f"[green]enabled[/] {UNIT_NAME} at boot")))
        if now:
            if root != Path("/") or not systemd_running():
                raise ProvisioningError(pick(lg, ("--now 需要本机正在运行 systemd", "--now needs a running systemd on this machine")),
                                        pick(lg, ("在开着机的站点主机上运行：systemctl restart station-gateway",
                                                  "boot the station and run: systemctl restart station-gateway")))
            for args in (["daemon-reload"], ["restart", "systemd-journald"], ["restart", UNIT_NAME]):
                systemctl(args, lg)
            console.print(pick(lg, (f"[green]已启动[/] {UNIT_NAME}；查看日志：journalctl -u station-gateway -f",
                                    f"[green]started[/] {UNIT_NAME}; follow it with: journalctl -u station-gateway -f")))
    if not now:
        steps = "systemctl daemon-reload && systemctl restart systemd-journald && systemctl start station-gateway"
        console.print(pick(lg, (f"[bold]下一步：[/]启动服务：{steps}", f"[bold]next:[/] {steps}")))


def verify_unit(unit_path: Path) -> list[str]:
    """What `systemd-analyze verify` says about the unit itself (empty when it is clean or the tool is missing)."""
    exe = shutil.which("systemd-analyze")
    if exe is None:
        return []
    try:
        done = subprocess.run([exe, "verify", str(unit_path)], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in (done.stdout + done.stderr).splitlines() if str(unit_path) in line or "Unknown" in line]


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def register(app: typer.Typer) -> None:
    app.command("install-service")(install_service)
