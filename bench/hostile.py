"""Hostile input against real processes (RELIABILITY.md, "Hostile messages and logins").

`python -m bench.hostile [gateway|ingest|serve|logins ...]` (all by default; a few minutes):
- gateway: peak RSS (VmHWM) of `station-gateway run` while a 100 MB command is published to it,
  with the broker's default `message_size_limit` of this project (2 MiB) and without any limit;
- ingest: peak RSS of `countyctl ingest` and the database size after 5 x 20 MB payloads
  (the county broker allowing them, as a misconfigured one would);
- serve: peak RSS of `countyctl serve` while a logged-in client posts a 100 MB JSON body;
- logins: `/api/board` latency while ten clients post bogus logins at once.
Each figure is read from /proc of the process under test; nothing here is a pass/fail test.
"""

from __future__ import annotations

import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from county.sim.webdemo import start_center
from gateway.localbroker import LocalBroker, free_port

ROOT = Path(__file__).resolve().parents[1]
STATION = "410421/xiaoqi/zhuwa/test-01"


def peak_mib(pid: int) -> int:
    """VmHWM: the highest resident set the process has had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1


def publish(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hostile-{time.monotonic_ns()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(120)
    except (RuntimeError, ValueError):
        pass  # the broker may close the link on an oversized message: that is the point
    finally:
        client.loop_stop()
        client.disconnect()


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def gateway(limit: bool) -> dict[str, Any]:
    from tests.stations import station_dict, subscribe, write_station

    tmp = Path(tempfile.mkdtemp(prefix="hostile-gw-"))
    broker = LocalBroker(workdir=tmp / "broker", extra_config="" if limit else "message_size_limit 0\n").start()
    collector, sub = subscribe(broker.port)
    config = write_station(tmp / "station.yaml", station_dict(tmp, broker.port))
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config", str(config), "--log-level", "WARNING"],
                            cwd=ROOT, stdout=(tmp / "gw.log").open("ab"), stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: collector.status.get(STATION) is True, 60)
        time.sleep(3)
        before = peak_mib(proc.pid)
        publish(broker.port, f"vs/v1/{STATION}/cmd/announce", b"x" * 100_000_000)
        time.sleep(8)
        online = proc.poll() is None and collector.status.get(STATION) is True
        return {"broker_limit": "2 MiB" if limit else "none", "peak_before_mib": before, "peak_after_mib": peak_mib(proc.pid), "still_online": online}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        sub.stop()
        broker.stop()


def ingest() -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="hostile-ingest-"))
    broker = LocalBroker(workdir=tmp / "broker", extra_config="message_size_limit 0\n").start()
    db = tmp / "county.db"
    proc = subprocess.Popen([sys.executable, "-m", "county.cli", "ingest", "--db", f"sqlite:///{db}", "--broker", f"127.0.0.1:{broker.port}",
                             "--seconds", "40", "--report-every", "5"], cwd=ROOT, stdout=(tmp / "ingest.log").open("ab"), stderr=subprocess.STDOUT)
    try:
        time.sleep(4)
        before = peak_mib(proc.pid)
        junk = b'{"kind":"telemetry","junk":"' + b"x" * (20 * 1024 * 1024) + b'"}'
        for _ in range(5):
            publish(broker.port, "vs/v1/410421/y/l/evil/telemetry/g", junk)
        good = (b'{"kind":"telemetry","station":"410421/y/l/ok","seq":1,"event_id":"e","ts":"2026-12-02T00:00:00Z",'
                b'"clock_synced":true,"boot_id":"b","sensor":"g","values":{"a":1}}')
        publish(broker.port, "vs/v1/410421/y/l/ok/telemetry/g", good)
        time.sleep(8)
        after = peak_mib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        broker.stop()
    size = sum(p.stat().st_size for p in tmp.glob("county.db*"))
    return {"payloads": "5 x 20 MB", "peak_before_mib": before, "peak_after_mib": after, "database_kib": size // 1024,
            "last_report": (tmp / "ingest.log").read_text(errors="replace").strip().splitlines()[-1:]}


class Web:
    """`countyctl serve` over a fresh county centre with one logged-in duty officer."""

    def __init__(self) -> None:
        import httpx2 as httpx

        self.httpx = httpx
        root = Path(tempfile.mkdtemp(prefix="hostile-web-"))
        self.center = start_center(root, [("duty", "410421", "duty")], "correct horse battery", ingest_id=f"hostile-{root.name}")
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "county.cli", "serve", "--db", self.center.db_url, "--broker", f"127.0.0.1:{self.center.broker.port}",
             "--key", str(self.center.key_file), "--listen", f"127.0.0.1:{port}"],
            cwd=ROOT, stdout=(root / "serve.log").open("wb"), stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        wait_until(self._up, 30)
        self.client = self.login("duty", "correct horse battery")
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', self.client.get("/").text).group(1)

    def _up(self) -> bool:
        try:
            self.httpx.get(self.base + "/login", timeout=1)
            return True
        except self.httpx.HTTPError:
            return False

    def login(self, name: str, password: str) -> Any:
        client = self.httpx.Client(base_url=self.base, timeout=120)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"username": name, "password": password, "csrf": token})
        return client

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.center.stop()


def serve() -> dict[str, Any]:
    web = Web()
    try:
        before = peak_mib(web.proc.pid)
        body = b'{"target":"410421","text":"' + b"x" * (100 * 1024 * 1024) + b'"}'
        try:
            status: Any = web.client.post("/api/announce", content=body,
                                          headers={"x-csrf-token": web.csrf, "content-type": "application/json"}).status_code
        except web.httpx.HTTPError as exc:
            status = type(exc).__name__
        return {"post": "100 MB JSON", "status": status, "peak_before_mib": before, "peak_after_mib": peak_mib(web.proc.pid),
                "board_after": web.client.get("/api/board").status_code}
    finally:
        web.close()


def logins() -> dict[str, Any]:
    web = Web()
    stop = threading.Event()

    def bogus(i: int) -> None:
        while not stop.is_set():
            web.login(f"nobody{i}-{time.monotonic_ns()}", "wrong password").close()

    def board_ms() -> float:
        t = time.perf_counter()
        web.client.get("/api/board").raise_for_status()
        return (time.perf_counter() - t) * 1000

    try:
        quiet = [board_ms() for _ in range(20)]
        threads = [threading.Thread(target=bogus, args=(i,), daemon=True) for i in range(10)]
        for t in threads:
            t.start()
        time.sleep(1)
        busy, end = [], time.monotonic() + 8
        while time.monotonic() < end:
            busy.append(board_ms())
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(30)
        return {"quiet_median_ms": round(statistics.median(quiet), 1), "under_10_bogus_logins_median_ms": round(statistics.median(busy), 1),
                "under_10_bogus_logins_max_ms": round(max(busy), 1), "samples": len(busy)}
    finally:
        stop.set()
        web.close()


def run(parts: list[str] | None = None) -> dict[str, Any]:
    parts = parts or ["gateway", "ingest", "serve", "logins"]
    out: dict[str, Any] = {}
    for part in parts:
        if part == "gateway":
            out["gateway_limit"] = gateway(True)
            out["gateway_no_limit"] = gateway(False)
        else:
            out[part] = {"ingest": ingest, "serve": serve, "logins": logins}[part]()
        print(part, out.get(part) or (out["gateway_limit"], out["gateway_no_limit"]), flush=True)
    return out


if __name__ == "__main__":
    run(sys.argv[1:])
