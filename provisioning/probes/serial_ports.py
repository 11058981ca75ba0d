"""Serial ports: which the system has, and whether each configured port URL resolves to one."""

from __future__ import annotations

from pathlib import Path

from serial.tools import list_ports

from gateway.config.station import StationConfig
from provisioning.results import CheckResult

LOCAL_PREFIXES = ("/dev/",)
REMOTE_SCHEMES = ("loop://", "rfc2217://", "socket://", "spy://", "alt://", "cp2110://")


def found_ports() -> list[dict[str, str]]:
    """Every serial port the system lists, with what identifies its adapter."""
    out = []
    for p in sorted(list_ports.comports(), key=lambda p: p.device):
        vidpid = f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None and p.pid is not None else ""
        out.append({"device": p.device, "description": p.description or "", "hwid": p.hwid or "", "vid_pid": vidpid})
    return out


def configured_ports(cfg: StationConfig) -> dict[str, list[str]]:
    """Port URL -> the sensors that use it."""
    ports: dict[str, list[str]] = {}
    for sensor in cfg.water_sensors:
        url = getattr(sensor.driver, "port", None)
        if url:
            ports.setdefault(str(url), []).append(sensor.id)
    return ports


def check_url(url: str, users: list[str], listed: list[dict[str, str]]) -> CheckResult:
    names = ", ".join(users)
    known = ", ".join(p["device"] for p in listed) or "none"
    if url.startswith("hwgrep://"):
        pattern = url[len("hwgrep://"):].split("&")[0]
        matches = [p.device for p in list_ports.grep(pattern)]
        if matches:
            return CheckResult("serial", url, "pass", f"{names}: adapter found at {', '.join(matches)}", {"matches": matches})
        return CheckResult("serial", url, "fail", f"{names}: no adapter matches {pattern!r} (ports: {known})",
                           {"matches": []}, hint="plug the USB-serial adapter in, or correct the VID:PID in the port URL "
                           "(see the vid_pid of the ports listed)")
    if url.startswith(REMOTE_SCHEMES):
        return CheckResult("serial", url, "pass", f"{names}: network or virtual port; its sensor check below shows whether it answers")
    path = Path(url)
    if path.exists():
        target = str(path.resolve()) if path.is_symlink() else url
        return CheckResult("serial", url, "pass", f"{names}: port present ({target})", {"resolved": target})
    return CheckResult("serial", url, "fail", f"{names}: port {url} does not exist (ports: {known})",
                       hint="plug the adapter in and check `dmesg | tail`; better use a stable name from "
                       "/dev/serial/by-id/ or hwgrep://VID:PID in the station file")


def probe_serial(cfg: StationConfig) -> list[CheckResult]:
    listed = found_ports()
    rows = [CheckResult(
        "serial", "system", "pass",
        f"{len(listed)} serial port(s): " + (", ".join(f"{p['device']} ({p['description']})" for p in listed) or "none"),
        {"ports": listed},
    )]
    for url, users in configured_ports(cfg).items():
        rows.append(check_url(url, users, listed))
    return rows
