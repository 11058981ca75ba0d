"""The serve's CPU against the number of open pages: the same live load pushed to 1, then 10, then 30 event streams.

Run: `.venv/bin/python -m bench.web_pages [--stations N] [--seconds S] [--pages 1,10,30]` from the project root.

The load is `bench.web`'s (N simulated stations on the selector loop, telemetry every 5 s, health every 60 s,
one alarm per station every 60 s on average, cleared 20 s later; one mosquitto; `countyctl serve` in its own
process; no ingest: the serve reads the database only at start). No browser: each page is its own logged-in session holding `/api/events` open in a thread of this
process and reading every event (as app.js's EventSource does), half of them in Chinese and half in English
(`?lang=en`, kept in the session), so the server words each record in both languages as soon as two pages are
open. The page count grows step by step on one running serve; at each step, after a warm-up, the serve's CPU
(share of one core, /proc/PID/stat) over the window, and the events each page received. The serve's cost
of a page is the slope between steps. Nothing here asserts on time; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2 as httpx

from bench.county import BROKER_CONFIG, _cpu_of, _stop, _wait
from bench.web import ALARM_EVERY_S, ALARM_OPEN_S, COUNTY, HEALTH_S, PASSWORD, TELEMETRY_S, N, SseProbe, _serve, _up
from county.accounts import Accounts
from county.keys import generate
from county.sim.fleet import LinkConfig, SelectorFleet
from county.sim.scenario import ScenarioParams
from county.sim.simulate import default_workdir, make_stations, raise_fd_limit
from county.store import Store
from gateway.localbroker import LocalBroker, free_port

SECONDS = 40.0  # each step's window
WARMUP_S = 5.0
PAGES = (1, 10, 30)


def open_page(base_url: str, lang: str) -> SseProbe:
    """One open page's event stream: its own session (login, language kept in it), every event read and counted."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = http.get("/login").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        http.post("/login", data={"username": "wall", "password": PASSWORD, "csrf": token})
        http.get("/", params={"lang": lang}).raise_for_status()
        return SseProbe(base_url, dict(http.cookies.items())).start()


def run(stations: int = N, seconds: float = SECONDS, steps: tuple[int, ...] = PAGES) -> dict[str, Any]:
    params = ScenarioParams(telemetry_s=TELEMETRY_S, health_s=HEALTH_S, alarm_every_s=max(1.0, ALARM_EVERY_S - ALARM_OPEN_S),
                            alarm_duration_s=ALARM_OPEN_S)
    raise_fd_limit(16384)
    f: dict[str, Any] = {"machine": f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
                         "tree": str(Path(__file__).resolve().parent.parent), "stations": stations, "window_s": seconds, "steps": []}
    with ExitStack() as undo:  # everything started or made is stopped and removed in reverse order, whatever happens
        tmp, fleet_dir = Path(tempfile.mkdtemp(prefix="bench-web-pages-")), default_workdir()
        undo.callback(shutil.rmtree, tmp, True)
        undo.callback(shutil.rmtree, fleet_dir, True)
        broker = LocalBroker(workdir=tmp / "broker", extra_config=BROKER_CONFIG).start()
        undo.callback(broker.stop)
        db, key = f"sqlite:///{tmp / 'county.db'}", tmp / "county.key"
        generate(key)
        store = Store(db)
        Accounts(store).add("wall", PASSWORD, COUNTY, "县值班大屏 wall screen")
        store.close()
        kids: list[Any] = []
        web_port = free_port()
        serve = _serve(kids, db, broker.port, key, web_port, tmp)
        undo.callback(_stop, serve)
        base_url = f"http://127.0.0.1:{web_port}"
        if not _wait(lambda: _up(base_url) or serve.poll() is not None, 30) or serve.poll() is not None:
            raise RuntimeError("countyctl serve did not come up:\n" + (tmp / "serve.log").read_text(errors="replace"))
        fleet = SelectorFleet(make_stations(stations, fleet_dir, params), LinkConfig("127.0.0.1", broker.port),
                              ramp_s=max(1.0, stations / 500)).start()
        undo.callback(fleet.stop)
        if not _wait(lambda: fleet.connected() == stations, 60):
            raise RuntimeError(f"only {fleet.connected()}/{stations} stations connected")
        pages: list[SseProbe] = []
        for count in steps:
            while len(pages) < count:
                pages.append(open_page(base_url, "en" if len(pages) % 2 else "zh"))
                undo.callback(pages[-1].stop)
            time.sleep(WARMUP_S)
            events0, cpu0, t0 = [p.events for p in pages], _cpu_of(serve.pid), time.monotonic()
            time.sleep(seconds)
            cpu1, t1 = _cpu_of(serve.pid), time.monotonic()
            rates = [(p.events - e) / (t1 - t0) for p, e in zip(pages, events0, strict=True)]
            f["steps"].append({"pages": count, "serve_cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0),
                               "events_per_page_s": statistics.median(rates), "events_per_page_s_min": min(rates),
                               "errors": [p.error for p in pages if p.error]})
    first, last = f["steps"][0], f["steps"][-1]
    f["serve_cpu_per_page"] = (last["serve_cpu_percent"] - first["serve_cpu_percent"]) / max(1, last["pages"] - first["pages"])
    return f


def markdown(f: dict[str, Any]) -> str:
    steps = f["steps"]
    head = "| open pages (half zh, half en) | " + " | ".join(str(s["pages"]) for s in steps) + " |"
    rule = "|---|" + "---|" * len(steps)
    cpu = "| `countyctl serve` CPU, % of one core | " + " | ".join(f"{s['serve_cpu_percent']:.1f}" for s in steps) + " |"
    events = "| events per page per second (median) | " + " | ".join(f"{s['events_per_page_s']:.1f}" for s in steps) + " |"
    return "\n".join((head, rule, cpu, events, f"\nServe CPU per extra open page: {f['serve_cpu_per_page']:.2f} % of one core "
                      f"({f['stations']} stations, {f['window_s']:g} s per step, {f['machine']})."))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.web_pages", description=__doc__.split("\n\n")[0])
    ap.add_argument("--stations", type=int, default=N)
    ap.add_argument("--seconds", type=float, default=SECONDS, help="length of each step's window")
    ap.add_argument("--pages", default=",".join(map(str, PAGES)), help="the open pages at each step, growing")
    a = ap.parse_args(argv)
    f = run(a.stations, a.seconds, tuple(int(n) for n in a.pages.split(",")))
    print(json.dumps(f, indent=2))
    print(markdown(f))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
