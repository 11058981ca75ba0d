"""A county-side subscriber in its own process that records what arrives and when.

An in-process paho subscriber shares the GIL with the station under test: during a drain of
thousands of messages a second it falls behind, the broker queues for it, and an alarm's delay
then measures the test's subscriber rather than the station. `mosquitto_sub` (C, its own
process) keeps up and stamps each arrival with the wall clock (`-F %U`). Durable session
(`-c`), so nothing published while it reconnects after a broker restart is lost to it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Arrival:
    t: float  # wall clock (time.time()) at arrival
    topic: str
    doc: dict[str, Any]


class Wire:
    def __init__(self, port: int, out: Path, prefix: str = "vs/v1", client_id: str = "fault-wire") -> None:
        exe = shutil.which("mosquitto_sub")
        assert exe, "mosquitto_sub is missing (Debian mosquitto-clients, installed by make test)"
        self._cmd = [exe, "-h", "127.0.0.1", "-p", str(port), "-t", f"{prefix.rstrip('/')}/#", "-q", "1",
                     "-c", "-i", client_id, "-F", "%U %t %p", "--quiet"]
        self.out = out
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Wire":
        self._proc = subprocess.Popen(self._cmd, stdout=self.out.open("ab"), stderr=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None

    def text(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace") if self.out.exists() else ""

    def lines(self) -> list[str]:
        return self.text().splitlines()

    def count(self) -> int:
        return len(self.lines())

    def arrivals(self) -> list[Arrival]:
        out = []
        for line in self.lines():
            t, topic, payload = line.split(" ", 2)
            if "/snapshot/" not in topic:
                out.append(Arrival(float(t), topic, json.loads(payload)))
        return out
