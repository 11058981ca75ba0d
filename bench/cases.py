"""The closed loop's figures: alarm -> case opened -> notification delivered, through a real broker and ingest.

Run: `.venv/bin/python -m bench.run bench.cases`. One mosquitto, `Ingest` with the case loop's hook
(as `countyctl ingest` runs it with a loop file), SQLite, a local HTTP webhook receiver. Phases:

1. steady: 500 stations in 100 villages, alarms at STEADY_RATE per second (the issue's load, one danger
   alarm per station per 10 minutes, is 0.83/s; this runs it 6x faster to get enough samples quickly).
2. burst: one danger alarm from every one of the 500 stations at once (a county-wide flood):
   time until every case is open and every notification delivered.
Latencies: publish -> the case visible to another reader of the database (polled every 20 ms) -> webhook received;
one clock, this process's.
"""

from __future__ import annotations

import json
import resource
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from county.cases.config import LoopConfig, Webhook
from county.cases.db import LoopDb
from county.cases.loop import CaseLoop
from county.cases.store import CaseStore
from county.ingest import Ingest
from county.people import People, check_person
from county.store import Store
from gateway.localbroker import LocalBroker, free_port
from wire.messages import Alarm, envelope_fields, to_payload

STATIONS = 500
VILLAGES = 100
STEADY_RATE = 5.0  # alarms per second
STEADY_S = 60.0


def station(i: int) -> str:
    return f"410421/town{i % 10}/village{i % VILLAGES}/s{i:03d}"


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.got: dict[int, float] = {}  # case id -> time received (first)
        lock = threading.Lock()
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    got.setdefault(json.loads(body)["case"]["id"], time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values[0] if values else float("nan"))


def run() -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-cases-"))
    url = f"sqlite:///{work / 'county.db'}"
    secret = work / "secret"
    secret.write_text("bench-secret-0123456789abcdef")
    receiver = Receiver()
    config = LoopConfig(webhook=Webhook(url=f"http://127.0.0.1:{receiver.port}/hook", secret_file=secret), tick_s=5.0)
    db = LoopDb(url)
    people = People(db)
    CaseStore(db)  # its tables, before the watcher reads them
    for v in range(VILLAGES):
        people.upsert(check_person(f"网格员{v}", f"1380000{v:04d}", "grid_worker", f"410421/town{v % 10}/village{v}"), 0)
    broker = LocalBroker(workdir=work / "broker")
    broker.start()
    store = Store(url)
    loop = CaseLoop(url, config, poll_s=0.05).start()
    ingest = Ingest(store, "127.0.0.1", broker.port, client_id="bench-cases", on_stored=loop.offer).start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    sent: dict[tuple[str, str], float] = {}
    seq = [0]

    def alarm(i: int) -> None:
        path, seq[0] = station(i), seq[0] + 1
        event_id = f"ev-{seq[0]}"
        now = time.time()
        m = Alarm(**envelope_fields(path, seq[0], now, True, "bench", event_id), alarm="water_level", state="raised", severity="danger",
                  category="safety", source="gauge-1", summary="水位超过危险线", raised_at=datetime.fromtimestamp(now, UTC))
        sent[(path, event_id)] = now
        pub.publish(f"vs/v1/{path}/event/water_level", to_payload(m), qos=1)

    seen: dict[tuple[str, str], tuple[int, float]] = {}  # alarm -> (case id, first time a reader saw its case)
    watching = threading.Event()

    def watch() -> None:
        reader = LoopDb(url)
        while not watching.is_set():
            for sid, ev, cid in reader.query("SELECT station, event_id, case_id FROM case_alarms"):
                seen.setdefault((sid, ev), (int(cid), time.time()))
            time.sleep(0.02)
        reader.close()

    threading.Thread(target=watch, daemon=True).start()

    def measure(keys: set[tuple[str, str]], timeout: float) -> dict[str, list[float]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(k in seen and seen[k][0] in receiver.got for k in keys):
                break
            time.sleep(0.2)
        found = {k: seen[k] for k in keys if k in seen}
        to_case = [at - sent[k] for k, (_, at) in found.items()]
        to_notice = [receiver.got[cid] - sent[k] for k, (cid, _) in found.items() if cid in receiver.got]
        return {"case": to_case, "notice": to_notice, "missing": [float(len(keys) - len(found))]}

    assert ingest.connected.wait(10)
    time.sleep(0.5)
    f: dict[str, float] = {}
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
    steady_keys: set[tuple[str, str]] = set()
    i = 0
    while time.time() - t0 < STEADY_S:
        before = set(sent)
        alarm(i % STATIONS)
        steady_keys |= set(sent) - before
        i += 1
        time.sleep(max(0.0, t0 + i / STEADY_RATE - time.time()))
    m = measure(steady_keys, 60)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.time() - t0
    f.update(steady_alarms=len(steady_keys), steady_case_median_ms=statistics.median(m["case"]) * 1000,
             steady_case_p95_ms=pct(m["case"], 95) * 1000, steady_notice_median_ms=statistics.median(m["notice"]) * 1000,
             steady_notice_p95_ms=pct(m["notice"], 95) * 1000, steady_missing=m["missing"][0],
             steady_cpu_percent=100 * (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / wall)
    t1 = time.time()
    before = set(sent)
    for s in range(STATIONS):
        alarm(s)
    burst = set(sent) - before
    m = measure(burst, 300)
    f.update(burst_alarms=len(burst), burst_all_cases_s=max(m["case"]), burst_all_notices_s=max(m["notice"]),
             burst_case_median_ms=statistics.median(m["case"]) * 1000, burst_missing=m["missing"][0], burst_wall_s=time.time() - t1,
             rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    watching.set()
    pub.loop_stop()
    pub.disconnect()
    ingest.stop()
    loop.stop()
    store.close()
    db.close()
    broker.stop()
    receiver.server.shutdown()
    print(f"  steady {f['steady_alarms']:.0f} alarms at {STEADY_RATE}/s over {STATIONS} stations: alarm -> case median / p95 "
          f"{f['steady_case_median_ms']:.0f} / {f['steady_case_p95_ms']:.0f} ms; -> webhook received {f['steady_notice_median_ms']:.0f} / "
          f"{f['steady_notice_p95_ms']:.0f} ms; CPU (ingest + loop + sender + publisher + receiver) {f['steady_cpu_percent']:.1f} %")
    print(f"  burst {f['burst_alarms']:.0f} alarms at once: every case open after {f['burst_all_cases_s']:.1f} s, every notice received "
          f"after {f['burst_all_notices_s']:.1f} s (median case {f['burst_case_median_ms']:.0f} ms); missing {f['burst_missing']:.0f}; "
          f"RSS {f['rss_mib']:.0f} MiB")
    return f


if __name__ == "__main__":
    run()
