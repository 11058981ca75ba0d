"""systemd's part in the update tests, played by a thread: systemd cannot run inside this test machine.

What it does is what the bundle's unit says (`packaging/bundle.py render_unit`): before every start
`ExecStartPre=-/usr/bin/python3 <root>/update-guard <root>` (the system python, outside both venvs),
then `ExecStart=<root>/current/bin/station-gateway run --config ...` (the link followed at each start),
and `Restart=always` after any exit (RestartSec shortened to half a second).
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from tests.update.conftest import clean_env

SYSTEM_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else "python3"


class Supervisor:
    def __init__(self, root: Path, config: Path, workdir: Path, log: Path) -> None:
        self.root, self.config, self.workdir, self.log = root, config, workdir, log
        self.starts: list[str] = []  # the version `current` pointed at, each start
        self.exits: list[int] = []
        self.guard_said: list[str] = []
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)

    def __enter__(self) -> "Supervisor":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._thread.join(40)

    def _loop(self) -> None:
        env = clean_env()
        while not self._stop.is_set():
            done = subprocess.run([SYSTEM_PYTHON, str(self.root / "update-guard"), str(self.root)], capture_output=True, text=True, env=env, check=False)
            self.guard_said.append(done.stderr.strip())
            with self._lock:
                if self._stop.is_set():
                    return
                self.starts.append(os.readlink(self.root / "current"))
                self._proc = subprocess.Popen(
                    [str(self.root / "current" / "bin" / "station-gateway"), "run", "--config", str(self.config), "--log-level", "INFO"],
                    cwd=self.workdir, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
            self.exits.append(self._proc.wait())
            self._stop.wait(0.5)
