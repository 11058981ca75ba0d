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
    known = ", ".join(p["device"] for p in listed)
    known_zh, known_en = known or "无", known or "none"
    if url.startswith("hwgrep://"):
        pattern = url[len("hwgrep://"):].split("&")[0]
        matches = [p.device for p in list_ports.grep(pattern)]
        if matches:
            found = ", ".join(matches)
            return CheckResult.of("serial", url, "pass", (f"{names}：在 {found} 找到串口适配器", f"{names}: adapter found at {found}"),
                                  {"matches": matches})
        return CheckResult.of("serial", url, "fail", (f"{names}：没有适配器匹配 {pattern!r}（现有串口：{known_zh}）",
                                                      f"{names}: no adapter matches {pattern!r} (ports: {known_en})"),
                              {"matches": []}, hint=("插上 USB 转串口适配器，或改正端口地址里的 VID:PID（参照列出的各串口的 vid_pid）",
                                                     "plug the USB-serial adapter in, or correct the VID:PID in the port URL "
                                                     "(see the vid_pid of the ports listed)"))
    if url.startswith(REMOTE_SCHEMES):
        return CheckResult.of("serial", url, "pass", (f"{names}：网络或虚拟串口；能否应答见下面该传感器的检查",
                                                      f"{names}: network or virtual port; its sensor check below shows whether it answers"))
    path = Path(url)
    if path.exists():
        target = str(path.resolve()) if path.is_symlink() else url
        return CheckResult.of("serial", url, "pass", (f"{names}：串口存在（{target}）", f"{names}: port present ({target})"), {"resolved": target})
    return CheckResult.of("serial", url, "fail", (f"{names}：串口 {url} 不存在（现有串口：{known_zh}）",
                                                  f"{names}: port {url} does not exist (ports: {known_en})"),
                          hint=("插上适配器，用 `dmesg | tail` 查看；站点文件里最好用 /dev/serial/by-id/ 下的固定名称或 hwgrep://VID:PID",
                                "plug the adapter in and check `dmesg | tail`; better use a stable name from "
                                "/dev/serial/by-id/ or hwgrep://VID:PID in the station file"))


def probe_serial(cfg: StationConfig) -> list[CheckResult]:
    listed = found_ports()
    ports = ", ".join(f"{p['device']} ({p['description']})" for p in listed)
    rows = [CheckResult.of("serial", "system", "pass", (f"系统共有 {len(listed)} 个串口：{ports or '无'}",
                                                        f"{len(listed)} serial port(s): {ports or 'none'}"), {"ports": listed})]
    for url, users in configured_ports(cfg).items():
        rows.append(check_url(url, users, listed))
    return rows
