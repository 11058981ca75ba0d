"""`make web-demo` itself: a simulated county behind the web view, reachable with the printed login."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx

from county.sim.webdemo import PASSWORD
from gateway.localbroker import free_port
from tests.conftest import ROOT
from tests.stations import wait_for
from tests.web.conftest import web_up


def test_web_demo_serves_three_stations_with_live_alarms(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen([sys.executable, "-m", "county.sim.webdemo", "--listen", f"127.0.0.1:{port}", "--duration", "60",
                             "--workdir", str(tmp_path / "demo")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        assert wait_for(lambda: web_up(f"http://127.0.0.1:{port}"), timeout=60)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        assert client.post("/login", data={"username": "duty", "password": PASSWORD, "csrf": token}).status_code in (200, 303)

        def board() -> dict:
            return client.get("/api/board").json()

        assert wait_for(lambda: sum(bool(s["online"]) for s in board()["stations"]) == 3, timeout=60)
        assert wait_for(lambda: {"water_level", "person_in_water_zone"} <= {a["alarm"] for a in board()["alarms"]}, timeout=90)
    finally:
        demo.terminate()
        out, _ = demo.communicate(timeout=60)
        client.close()
    text = out.decode(errors="replace")
    assert "log in as duty" in text and PASSWORD in text and "snapshots" in text
