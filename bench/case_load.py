"""The closed loop under the issue's load, with people watching: 20 operators' pages and 100 grid workers' phones open.

Run: `.venv/bin/python -m bench.case_load [--rate R] [--seconds S]` (part of `python -m bench.run`).

Real processes: one mosquitto, `countyctl ingest --cases` and `countyctl serve --cases` (each its own
process, SQLite), a webhook receiver in this process. 500 stations in 100 villages; each village has a
grid worker with a web account (the phone pages) and a person in the directory (dispatch). Load while
the alarms arrive:

- 20 duty officers, each with the board and the case list open, as the pages do it: `/api/board` once,
  the live stream `/api/events` held open, and the case list's own refresh (static/cases_live.js):
  `/cases/stamp` every LIST_POLL_S, the list `/cases` fetched again only when the stamp moved;
- 100 phones on "my cases" `/m/`, reloaded every PHONE_RELOAD_S (a grid worker glancing at it);
- one more dispatcher, the probe, doing what the list page does but polling every PROBE_S, to time
  when each case is listed (the server's share; a real page adds up to LIST_POLL_S, half on average).

The issue's rate is one danger alarm per station per 10 minutes: 500 / 600 = 0.83 alarms/s (the default).
Figures: alarm published -> its case listed on the dispatcher's `/cases` page (includes up to PROBE_S
of the probe's reload interval: half of it on average), and -> the notification received by the
webhook (median, p95); the serve's and the ingest's CPU (share of one core over the window, from
/proc/PID/stat) and RSS (now and peak, /proc/PID/status); requests served to the watchers and
their median latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.cases import Receiver, pct
from county.accounts import Accounts
from county.cases.db import LoopDb
from county.cases.store import CaseStore
from county.keys import generate
from county.people import People, check_person
from county.store import Store
from gateway.localbroker import LocalBroker, free_port
from wire.messages import Alarm, envelope_fields, to_payload

ROOT = Path(__file__).resolve().parent.parent
STATIONS, VILLAGES, OPERATORS = 500, 100, 20
PASSWORD = "bench password 2026"
LIST_POLL_S, PHONE_RELOAD_S, PROBE_S = 2.0, 30.0, 0.25
CASE_LINK = re.compile(rb'href="/cases/(\d+)"')


def station(i: int) -> str:
    return f"410421/town{i % 10}/village{i % VILLAGES}/s{i:03d}"


def village(v: int) -> str:
    return f"410421/town{v % 10}/village{v}"


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_mib(pid: int) -> tuple[float, float]:
    """(RSS now, peak RSS) in MiB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def prepare(work: Path, receiver: Receiver) -> tuple[str, Path, Path]:
    """The county database with its accounts and people, the loop file and the signing key."""
    url = f"sqlite:///{work / 'county.db'}"
    store = Store(url)
    accounts = Accounts(store)
    for o in range(OPERATORS + 1):
        accounts.add(f"duty{o:02d}", PASSWORD, "410421", f"值班员{o}")
    for v in range(VILLAGES):
        accounts.add(f"grid{v:03d}", PASSWORD, village(v), f"网格员{v}")
    store.close()
    db = LoopDb(url)
    people = People(db)
    CaseStore(db)
    for v in range(VILLAGES):
        people.upsert(check_person(f"网格员{v}", f"1380000{v:04d}", "grid_worker", village(v), account=f"grid{v:03d}"), 0)
    db.close()
    (work / "webhook.secret").write_text("bench-secret-0123456789abcdef")
    loop = work / "loop.yaml"
    loop.write_text(f"webhook: {{url: 'http://127.0.0.1:{receiver.port}/hook', secret_file: '{work / 'webhook.secret'}'}}\ntick_s: 5\n")
    key = work / "county.key"
    generate(key)
    return url, loop, key


class Watchers:
    """The people with pages open, as asyncio tasks on one event loop in a thread of their own."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.latencies: list[float] = []
        self.errors = 0
        self.seen: dict[int, float] = {}  # case id -> when the probe's /cases first listed it
        self.events = 0
        self.stop = asyncio.Event()

    async def login(self, name: str, phone: bool) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.base, timeout=60)
        page = "/m/login" if phone else "/login"
        token = re.search(r'name="csrf" value="([^"]+)"', (await client.get(page)).text).group(1)  # type: ignore[union-attr]
        answer = await client.post(page, data={"username": name, "password": PASSWORD, "csrf": token})
        if answer.status_code != 303:
            raise RuntimeError(f"login {name}: HTTP {answer.status_code}")
        return client

    async def get(self, client: httpx.AsyncClient, path: str) -> bytes:
        t0 = time.perf_counter()
        try:
            answer = await client.get(path)
            answer.raise_for_status()
        except httpx.HTTPError:
            self.errors += 1
            return b""
        self.latencies.append(time.perf_counter() - t0)
        return answer.content

    async def reload(self, client: httpx.AsyncClient, path: str, every: float, offset: float) -> None:
        await asyncio.sleep(offset)
        while not self.stop.is_set():
            await self.get(client, path)
            try:
                await asyncio.wait_for(self.stop.wait(), every)
            except TimeoutError:
                pass

    async def stream(self, client: httpx.AsyncClient) -> None:
        try:
            async with client.stream("GET", "/api/events", timeout=None) as answer:
                async for line in answer.aiter_lines():
                    if line.startswith("event:"):
                        self.events += 1
                    if self.stop.is_set():
                        return
        except (httpx.HTTPError, asyncio.CancelledError):
            return

    async def case_list(self, client: httpx.AsyncClient, every: float, offset: float, probe: bool = False) -> None:
        """The open /cases page: poll the stamp, fetch the list when it moved (the probe records when each case shows)."""
        await asyncio.sleep(offset)
        stamp = ""
        while not self.stop.is_set():
            raw = await self.get(client, "/cases/stamp")
            now_stamp = json.loads(raw)["stamp"] if raw else stamp
            if now_stamp != stamp:
                stamp = now_stamp
                body = await self.get(client, "/cases")
                if probe:
                    now = time.time()
                    for cid in CASE_LINK.findall(body):
                        self.seen.setdefault(int(cid), now)
            await asyncio.sleep(every)

    async def run(self, ready: threading.Event) -> None:
        operators = [await self.login(f"duty{o:02d}", False) for o in range(OPERATORS)]
        phones = [await self.login(f"grid{v:03d}", True) for v in range(VILLAGES)]
        prober = await self.login(f"duty{OPERATORS:02d}", False)
        tasks = [asyncio.create_task(self.case_list(prober, PROBE_S, 0.0, probe=True))]
        for i, c in enumerate(operators):
            await self.get(c, "/api/board")
            tasks += [asyncio.create_task(self.stream(c)),
                      asyncio.create_task(self.case_list(c, LIST_POLL_S, i * LIST_POLL_S / OPERATORS))]
        for i, c in enumerate(phones):
            tasks.append(asyncio.create_task(self.reload(c, "/m/", PHONE_RELOAD_S, i * PHONE_RELOAD_S / VILLAGES)))
        ready.set()
        await self.stop.wait()
        await asyncio.sleep(0.5)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in [*operators, *phones, prober]:
            await c.aclose()


def start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "county.cli", *cmd], cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_http(base: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            httpx.get(base + "/login", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("countyctl serve did not start")


def run(rate: float = STATIONS / 600.0, seconds: float = 120.0) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-case-load-"))
    receiver = Receiver()
    url, loop_file, key = prepare(work, receiver)
    broker = LocalBroker(workdir=work / "broker").start()
    addr = f"127.0.0.1:{broker.port}"
    ingest = start(["ingest", "--db", url, "--broker", addr, "--group", "", "--client-id", "bench-load-ingest", "--cases", str(loop_file)],
                   work / "ingest.log")
    port = free_port()
    serve = start(["serve", "--db", url, "--broker", addr, "--key", str(key), "--listen", f"127.0.0.1:{port}", "--cases", str(loop_file),
                   "--secret-file", str(work / "session.secret")], work / "serve.log")
    base = f"http://127.0.0.1:{port}"
    watchers = Watchers(base)
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(watchers.run(ready)), daemon=True)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    try:
        wait_http(base, 60)
        thread.start()
        if not ready.wait(300):
            raise RuntimeError("the watchers could not log in")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        time.sleep(2.0)
        sent: dict[tuple[str, str], float] = {}
        serve_cpu0, ingest_cpu0, t0 = proc_cpu_s(serve.pid), proc_cpu_s(ingest.pid), time.time()
        latencies_before = len(watchers.latencies)
        n = 0
        while time.time() - t0 < seconds:
            path, event_id = station(n % STATIONS), f"load-{n}"
            now = time.time()
            m = Alarm(**envelope_fields(path, n + 1, now, True, "bench", event_id), alarm="water_level", state="raised", severity="danger",
                      category="safety", source="gauge-1", summary="水位超过危险线", raised_at=datetime.fromtimestamp(now, UTC))
            sent[(path, event_id)] = now
            pub.publish(f"vs/v1/{path}/event/water_level", to_payload(m), qos=1)
            n += 1
            time.sleep(max(0.0, t0 + n / rate - time.time()))
        wall = time.time() - t0
        serve_cpu, ingest_cpu = proc_cpu_s(serve.pid) - serve_cpu0, proc_cpu_s(ingest.pid) - ingest_cpu0
        reader = LoopDb(url)
        deadline = time.time() + 60
        cases: dict[tuple[str, str], int] = {}
        while time.time() < deadline:
            cases = {(s, e): int(c) for s, e, c in reader.query("SELECT station, event_id, case_id FROM case_alarms")}
            if all(k in cases and cases[k] in watchers.seen and cases[k] in receiver.got for k in sent):
                break
            time.sleep(0.5)
        reader.close()
        to_page = [watchers.seen[cases[k]] - t for k, t in sent.items() if k in cases and cases[k] in watchers.seen]
        to_notice = [receiver.got[cases[k]] - t for k, t in sent.items() if k in cases and cases[k] in receiver.got]
        serve_mib, ingest_mib = proc_mib(serve.pid), proc_mib(ingest.pid)
        served = watchers.latencies[latencies_before:]
        f = {"alarms": float(len(sent)), "rate_per_s": rate, "missing_cases": float(len(sent) - len(cases)),
             "page_median_ms": statistics.median(to_page) * 1000, "page_p95_ms": pct(to_page, 95) * 1000,
             "notice_median_ms": statistics.median(to_notice) * 1000, "notice_p95_ms": pct(to_notice, 95) * 1000,
             "serve_cpu_percent": 100 * serve_cpu / wall, "ingest_cpu_percent": 100 * ingest_cpu / wall,
             "serve_rss_mib": serve_mib[0], "serve_peak_mib": serve_mib[1], "ingest_rss_mib": ingest_mib[0], "ingest_peak_mib": ingest_mib[1],
             "watcher_requests": float(len(served)), "watcher_request_median_ms": statistics.median(served) * 1000 if served else float("nan"),
             "watcher_request_p95_ms": pct(served, 95) * 1000, "watcher_errors": float(watchers.errors), "live_events": float(watchers.events)}
    finally:
        loop.call_soon_threadsafe(watchers.stop.set)
        thread.join(30)
        pub.loop_stop()
        for p in (serve, ingest):
            p.terminate()
            p.wait(20)
        broker.stop()
        receiver.server.shutdown()
    print(f"  {f['alarms']:.0f} danger alarms at {rate:.2f}/s over {STATIONS} stations, {OPERATORS} operators' pages and {VILLAGES} phones "
          f"open: alarm -> case on the dispatcher's /cases page median / p95 {f['page_median_ms']:.0f} / {f['page_p95_ms']:.0f} ms "
          f"(probe polls every {PROBE_S * 1000:.0f} ms; an open page every {LIST_POLL_S:.0f} s); -> webhook received {f['notice_median_ms']:.0f} / {f['notice_p95_ms']:.0f} ms; "
          f"missing cases {f['missing_cases']:.0f}")
    print(f"  serve CPU {f['serve_cpu_percent']:.1f} % of a core, RSS {f['serve_rss_mib']:.0f} MiB (peak {f['serve_peak_mib']:.0f}); "
          f"ingest + case loop CPU {f['ingest_cpu_percent']:.1f} %, RSS {f['ingest_rss_mib']:.0f} MiB (peak {f['ingest_peak_mib']:.0f}); "
          f"watchers' requests {f['watcher_requests']:.0f}, median {f['watcher_request_median_ms']:.0f} ms, p95 "
          f"{f['watcher_request_p95_ms']:.0f} ms, errors {f['watcher_errors']:.0f}; live events received {f['live_events']:.0f}")
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=STATIONS / 600.0, help="danger alarms per second (default: the issue's 0.83)")
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    run(args.rate, args.seconds)


if __name__ == "__main__":
    main()
