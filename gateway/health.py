"""Health of the station: loop heartbeats, the systemd watchdog, and the Pi's vital signs.

The watchdog is pinged only while every loop has beaten recently, so a wedged camera or uplink
thread gets the whole gateway restarted by systemd instead of silently doing nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class Heartbeats:
    """Last beat time of each loop (monotonic)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._beats: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def beat(self, name: str, quiet_for: float = 0.0) -> None:
        """Record a beat; `quiet_for` announces a known long silence (a loudspeaker clip playing)."""
        with self._lock:
            self._beats[name] = (self._clock(), quiet_for)

    def ages(self) -> dict[str, float]:
        now = self._clock()
        with self._lock:
            return {name: round(now - t, 2) for name, (t, _) in self._beats.items()}

    def stalled(self, limit_s: float) -> list[str]:
        now = self._clock()
        with self._lock:
            return [name for name, (t, quiet) in self._beats.items() if now - t > max(limit_s, quiet)]


class SystemdNotifier:
    """sd_notify(3) over $NOTIFY_SOCKET; silent when not run by systemd."""

    def __init__(self, socket_path: str | None = None) -> None:
        path = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET", "")
        if path.startswith("@"):
            path = "\0" + path[1:]
        self._path = path

    @property
    def enabled(self) -> bool:
        return bool(self._path)

    def notify(self, message: str) -> bool:
        if not self._path:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.connect(self._path)
                s.sendall(message.encode())
            return True
        except OSError:
            return False

    def ready(self) -> bool:
        return self.notify("READY=1")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")


@dataclass(frozen=True, slots=True)
class Vitals:
    cpu_temp_c: float | None
    throttled: str | None
    load_1m: float | None
    disk_free_bytes: int | None
    rss_bytes: int | None


def cpu_temp_c(path: Path = Path("/sys/class/thermal/thermal_zone0/temp")) -> float | None:
    try:
        return round(int(path.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def throttled() -> str | None:
    """`vcgencmd get_throttled` on a Raspberry Pi (under-voltage, throttling flags); None elsewhere."""
    exe = shutil.which("vcgencmd")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "get_throttled"], capture_output=True, text=True, timeout=2).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.partition("=")[2] or out or None


def rss_bytes() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def disk_free(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def read_vitals(data_dir: Path) -> Vitals:
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return Vitals(cpu_temp_c(), throttled(), load, disk_free(data_dir), rss_bytes())
