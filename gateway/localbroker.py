"""A private mosquitto on a free loopback port, for the demo, tests, benchmarks and bench checks.

Real broker, not a mock: it is the same Debian mosquitto a county runs. `stop()` and `start()`
can be called repeatedly on the same port to simulate an outage. Like the county's broker
(examples/mosquitto/mosquitto.conf) it refuses to forward payloads over `MESSAGE_SIZE_LIMIT`.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# Above the largest legitimate message (an alarm snapshot, 150 kB by default; a command is at most
# 64 KiB), far below what would strain a station: without it a 100 MB command reached the gateway.
MESSAGE_SIZE_LIMIT = 2 * 1024 * 1024


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0) -> bool:
    """True once something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class LocalBroker:
    """Start, stop and restart a mosquitto bound to 127.0.0.1 on one port."""

    def __init__(self, port: int | None = None, extra_config: str = "", workdir: Path | None = None, persistent: bool = False,
                 listener_config: str | None = None) -> None:
        """`persistent`: keep sessions and queued QoS 1 messages across stop/start, as a county broker does.

        `listener_config`: replaces the plain anonymous listener (e.g. TLS listeners, a password
        file and an ACL); it must listen on `self.port`, the port `start()` waits for.
        """
        exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if exe is None:
            raise FileNotFoundError("mosquitto is not installed (make test/make demo install it: apt-get install mosquitto)")
        self.exe = exe
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._dir = Path(workdir or tempfile.mkdtemp(prefix="vs-broker-"))
        self._dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self._dir / "mosquitto.conf"
        self.log_path = self._dir / "mosquitto.log"
        own = (listener_config or "") + extra_config
        limit = "" if "message_size_limit" in own else f"message_size_limit {MESSAGE_SIZE_LIMIT}\n"
        self.config_path.write_text(
            # run as whoever started it: as root mosquitto would switch to 'mosquitto', who cannot write our folder
            f"user {getpass.getuser()}\n"
            + (listener_config if listener_config is not None else f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
            + (f"persistence true\npersistence_location {self._dir}/\nautosave_interval 1\n" if persistent else "persistence false\n")
            + f"max_queued_messages 100000\nmax_inflight_messages 0\n{limit}{extra_config}\n",
            encoding="utf-8",
        )
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> "LocalBroker":
        if self.running:
            return self
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen([self.exe, "-c", str(self.config_path)], stdout=log, stderr=log)
        if not wait_port(self.host, self.port, timeout):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}; see {self.log_path}")
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crashed broker or a cut link."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> "LocalBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
