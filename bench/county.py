"""County figures: 1,000 simulated stations, one mosquitto, `countyctl ingest` into SQLite.

Run: `.venv/bin/python -m bench.run bench.county` (or `make bench`). Phases, one broker:

1. live: 1,000 stations (selector fleet, this process) speak for LIVE_S seconds (telemetry every
   2 s, health every 30 s, an alarm per station every 30 s on average); `countyctl ingest` (its
   own process) and `mosquitto_sub` (same filters) receive the same stream. Figures: rates,
   alarm-to-row latency (station `ts` -> ingest `stored_at`, same clock), CPU of each part.
2. backlog: ingest and mosquitto_sub leave (persistent sessions: the broker queues for both);
   every station queues BURST telemetry messages (as after a county-wide outage) and drains it
   to the broker. Then mosquitto_sub alone drains its queue (raw receive rate), then a bare
   paho client (the Python library's floor), then ingest alone drains the same stream
   (sustained ingest rate); ROUNDS rounds, medians. Once more with
   two ingest members sharing the stream (the broker splits the queued backlog between them).
3. check: every (station, seq) ever allocated by the 1,000 outboxes is in SQLite, once.
4. driver cost: `countyctl simulate` with one gateway Uplink thread per station against the
   selector loop, N_COMPARE stations each, CPU and RSS.
"""

from __future__ import annotations

import os
import queue
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from county.ingest import DIRECT_CHANNELS, SHARED_CHANNELS
from county.sim.fleet import LinkConfig, SelectorFleet
from county.sim.scenario import ScenarioParams
from county.sim.simulate import default_workdir, make_stations, raise_fd_limit
from county.store import MESSAGE_TABLES, Store
from county.topics import station_filter
from gateway.localbroker import LocalBroker

N = 1000
LIVE_S = 40.0
BURST = 50  # telemetry messages queued per station in each backlog round
ROUNDS = 3
N_COMPARE = 100
COMPARE_S = 20.0
LIVE = ScenarioParams(telemetry_s=2.0, health_s=30.0, alarm_every_s=30.0, alarm_duration_s=10.0)
ROOT = Path(__file__).resolve().parent.parent
BROKER_CONFIG = "max_connections -1\nmax_queued_messages 1000000\n"  # later lines override LocalBroker's defaults


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_of(pid: int) -> int:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS"))
    return int(line.split()[1]) * 1024


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _pid_of_broker(broker: LocalBroker) -> int:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(broker.config_path) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    return int(proc.name)
            except OSError:
                continue
    raise RuntimeError("mosquitto process not found")


def _filters() -> list[str]:
    return [station_filter("vs/v1", c) for c in (*SHARED_CHANNELS, *DIRECT_CHANNELS)]


Kids = list[subprocess.Popen[bytes]]  # every process a run starts, stopped in its finally


def _spawn(kids: Kids, cmd: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, **kwargs)  # type: ignore[call-overload]
    kids.append(proc)
    return proc


def _raw_sub(kids: Kids, port: int, out: Path, count: int = 0) -> subprocess.Popen[bytes]:
    """mosquitto_sub on the ingest's filters, persistent session, one line (receive time, topic) per message."""
    cmd = ["mosquitto_sub", "-p", str(port), "-V", "mqttv5", "-c", "-i", "bench-raw", "-x", "3600", "-q", "1", "-R", "-F", "%U %t"]
    for f in _filters():
        cmd += ["-t", f]
    if count:
        cmd += ["-C", str(count)]
    return _spawn(kids, cmd, stdout=out.open("ab"), stderr=subprocess.DEVNULL)


class PahoAlone:
    """The floor under the ingest: one paho MQTT v5 client, persistent session, acks from a second thread, no parsing or storing.

    Run in its own process (`python -m bench.county paho PORT COUNT`), like the ingest: paho's
    network thread uses select(), which cannot watch a descriptor above 1023, and this process
    holds thousands (the fleet's sockets and outboxes).
    """

    def __init__(self, port: int) -> None:
        self.port = port
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        props.ReceiveMaximum = 2000
        self.props = props

    def create_session(self) -> None:
        c = self._client(lambda *a: None, manual=False)  # retained statuses at subscription: acknowledged and gone
        subscribed = threading.Event()
        c.on_subscribe = lambda *a: subscribed.set()
        c.connect("127.0.0.1", self.port, clean_start=False, properties=self.props)
        c.loop_start()
        c.subscribe([(f, 1) for f in _filters()])
        if not subscribed.wait(30):
            raise RuntimeError("paho alone: no SUBACK")
        time.sleep(1.0)
        c.disconnect()
        c.loop_stop()

    def _client(self, on_message, manual: bool = True) -> mqtt.Client:  # noqa: ANN001
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho", protocol=mqtt.MQTTv5, manual_ack=manual)
        c.on_message = on_message
        return c

    def drain(self, count: int) -> float:
        """Messages per second, first to last, while receiving `count` queued messages."""
        acks: queue.Queue[tuple[int, int] | None] = queue.Queue()
        stamps: list[float] = []
        done = threading.Event()

        def on_message(client, userdata, message) -> None:  # noqa: ANN001
            stamps.append(time.perf_counter())
            acks.put((message.mid, message.qos))
            if len(stamps) == count:
                done.set()

        c = self._client(on_message)

        def acker() -> None:
            while (item := acks.get()) is not None:
                c.ack(*item)

        thread = threading.Thread(target=acker, daemon=True)
        thread.start()
        c.connect("127.0.0.1", self.port, clean_start=False, properties=self.props)
        c.loop_start()
        ok = done.wait(120)
        time.sleep(0.5)
        acks.put(None)
        thread.join(5)
        c.disconnect()
        c.loop_stop()
        if not ok:
            raise RuntimeError(f"paho alone received {len(stamps)} of {count}")
        return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def _paho(port: int, count: int) -> float:
    """PahoAlone in a fresh process: count 0 creates its session, otherwise drains `count` messages and returns the rate."""
    out = subprocess.run([sys.executable, "-m", "bench.county", "paho", str(port), str(count)], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=300)
    return float(out.stdout.split()[-1])


def _ingest(kids: Kids, port: int, db: str, log: Path, client_id: str = "bench-ingest") -> subprocess.Popen[bytes]:
    return _spawn(
        kids, [sys.executable, "-m", "county.cli", "ingest", "--db", db, "--broker", f"127.0.0.1:{port}", "--client-id", client_id,
         "--report-every", "5"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _raw_times(path: Path, since: float = 0.0, until: float = float("inf")) -> list[float]:
    times = []
    for line in path.read_text(errors="replace").splitlines():
        stamp = line.split(" ", 1)[0]
        try:
            t = float(stamp)
        except ValueError:
            continue
        if since <= t <= until:
            times.append(t)
    return times


def _wait(predicate, timeout: float, step: float = 0.25) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def _rows(store: Store) -> int:
    return sum(store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in MESSAGE_TABLES)


def _duplicates_reported(log: Path) -> int:
    """Redeliveries each ingest run counted (its last progress line), summed over runs."""
    runs = re.split(r"^ingest bench-ingest[-0-9]*:", log.read_text(errors="replace"), flags=re.M)[1:]
    return sum(int(found[-1]) for run in runs if (found := re.findall(r"duplicates (\d+)", run)))


def _burst(fleet: SelectorFleet, stations: list) -> float:  # noqa: ANN001
    """Every station queues BURST telemetry messages and drains them to the broker; messages per second."""
    t0 = time.monotonic()
    fleet.call(lambda: [s.burst(BURST) for s in stations])
    if not _wait(lambda: fleet.pending() == 0, 300, step=0.1):
        raise RuntimeError("backlog: outboxes did not drain")
    return N * BURST / (time.monotonic() - t0)


def _drain(store: Store, members: list[subprocess.Popen[bytes]]) -> float:
    """Rows per second while `members` (just started) store N*BURST queued telemetry messages; stops them after."""
    before, since = _rows(store), time.time()
    try:
        if not _wait(lambda: _rows(store) >= before + N * BURST, 600, step=0.5):
            raise RuntimeError(f"backlog: ingest stored {_rows(store) - before} of {N * BURST}")
        n, lo, hi = store.query("SELECT COUNT(*), MIN(stored_at), MAX(stored_at) FROM telemetry WHERE received_at >= ?", (_iso(since),))[0]
        time.sleep(2.0)
    finally:
        for m in members:
            _stop(m)
    return (n - 1) / (_ts(hi) - _ts(lo))


def driver_cost(port: int, mode: str, n: int) -> dict[str, float]:
    """CPU share and RSS of `countyctl simulate` in one mode, measured over the second half of COMPARE_S."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "county.cli", "simulate", "--stations", str(n), "--broker", f"127.0.0.1:{port}", "--mode", mode,
             "--seconds", str(COMPARE_S), "--telemetry-s", "2", "--health-s", "30", "--alarm-every-s", "30", "--county", "990000",
             "--workdir", str(Path(tmp) / "fleet")], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "log", "wb"))
        time.sleep(COMPARE_S / 2)
        c0, t0 = _cpu_of(proc.pid), time.monotonic()
        time.sleep(COMPARE_S / 2 - 2)
        c1, t1 = _cpu_of(proc.pid), time.monotonic()
        rss = _rss_of(proc.pid)
        log = (Path(tmp) / "log").read_text(errors="replace")
        proc.wait(120)
    connected = re.findall(r"(\d+)/\d+ connected", log)
    return {"cpu_percent": 100 * (c1 - c0) / (t1 - t0), "rss_mib": rss / 2**20, "connected": float(connected[-1]) if connected else -1.0}


def run() -> dict[str, float]:
    raise_fd_limit(16384)  # inherited by mosquitto: each station is one socket there, four files here
    tmp = Path(tempfile.mkdtemp(prefix="bench-county-"))
    fleet_dir = default_workdir()
    broker = LocalBroker(workdir=tmp / "broker", extra_config=BROKER_CONFIG).start()
    db = f"sqlite:///{tmp / 'county.db'}"
    ingest_log = tmp / "ingest.log"
    figures: dict[str, float] = {}
    fleet: SelectorFleet | None = None
    kids: Kids = []
    try:
        broker_pid = _pid_of_broker(broker)
        ingest = _ingest(kids, broker.port, db, ingest_log)
        raw = _raw_sub(kids, broker.port, tmp / "raw-live.txt")
        time.sleep(2.0)  # both subscribed (and their sessions created) before the stations speak
        stations = make_stations(N, fleet_dir, LIVE)
        fleet = SelectorFleet(stations, LinkConfig("127.0.0.1", broker.port), ramp_s=2.0).start()
        t_connect = time.monotonic()
        if not _wait(lambda: fleet.connected() == N, 120):
            raise RuntimeError(f"only {fleet.connected()}/{N} stations connected")
        figures["connect_all_s"] = time.monotonic() - t_connect
        figures["load_average_1m_at_start"] = os.getloadavg()[0]

        # ---------------------------------------------------------------- 1. live
        time.sleep(5.0)  # past the birth burst
        made0 = sum(s.outbox.last_seq for s in stations)
        w0, cpu0 = time.time(), (_self_cpu(), _cpu_of(ingest.pid), _cpu_of(broker_pid))
        time.sleep(LIVE_S)
        w1, cpu1 = time.time(), (_self_cpu(), _cpu_of(ingest.pid), _cpu_of(broker_pid))
        made1 = sum(s.outbox.last_seq for s in stations)
        fleet.scenario = False
        if not _wait(lambda: fleet.pending() == 0, 60):
            raise RuntimeError("live phase: outboxes did not drain")
        time.sleep(3.0)
        store = Store(db)
        live_rows = store.query("SELECT COUNT(*) FROM telemetry WHERE received_at >= ? AND received_at <= ?", (_iso(w0), _iso(w1)))[0][0]
        live_rows += sum(store.query(f"SELECT COUNT(*) FROM {t} WHERE received_at >= ? AND received_at <= ?", (_iso(w0), _iso(w1)))[0][0]
                         for t in ("events", "health", "replies"))
        alarms = [(_ts(ts), _ts(stored)) for ts, stored in store.query("SELECT ts, stored_at FROM events WHERE kind = 'alarm'")]
        alarms = [(made, stored) for made, stored in alarms if w0 <= made <= w1]  # not those queued before a station connected
        latency = sorted(stored - made for made, stored in alarms)
        raw_live = len(_raw_times(tmp / "raw-live.txt", w0, w1))
        figures.update({
            "live_offered_msgs_per_s": (made1 - made0) / (w1 - w0),
            "live_ingest_rows_per_s": live_rows / (w1 - w0),
            "live_raw_msgs_per_s": raw_live / (w1 - w0),
            "alarm_to_row_count": float(len(latency)),
            "alarm_to_row_median_ms": statistics.median(latency) * 1000,
            "alarm_to_row_p99_ms": latency[int(len(latency) * 0.99)] * 1000,
            "alarm_to_row_max_ms": latency[-1] * 1000,
            "live_cpu_fleet_percent": 100 * (cpu1[0] - cpu0[0]) / (w1 - w0),
            "live_cpu_ingest_percent": 100 * (cpu1[1] - cpu0[1]) / (w1 - w0),
            "live_cpu_broker_percent": 100 * (cpu1[2] - cpu0[2]) / (w1 - w0),
            "fleet_rss_mib": _rss_of(os.getpid()) / 2**20,
        })

        # ---------------------------------------------------------------- 2. backlog: rounds of raw then ingest, then two members
        _stop(ingest)
        _stop(raw)
        publish, raws, pahos, drains = [], [], [], []
        _paho(broker.port, 0)  # its session, subscribed, so the broker queues the bursts for it too
        for r in range(ROUNDS):
            publish.append(_burst(fleet, stations))
            raw = _raw_sub(kids, broker.port, tmp / f"raw-burst-{r}.txt", count=N * BURST)
            raw.wait(300)
            times = _raw_times(tmp / f"raw-burst-{r}.txt")
            if len(times) != N * BURST:
                raise RuntimeError(f"mosquitto_sub received {len(times)} of {N * BURST}")
            raws.append((len(times) - 1) / (times[-1] - times[0]))
            pahos.append(_paho(broker.port, N * BURST))
            drains.append(_drain(store, [_ingest(kids, broker.port, db, ingest_log)]))
        second = _ingest(kids, broker.port, db, ingest_log, "bench-ingest-2")  # its session joins the shared group
        first = _ingest(kids, broker.port, db, ingest_log)
        time.sleep(3.0)
        _stop(first)
        _stop(second)
        _burst(fleet, stations)
        figures.update({
            "fleet_backlog_publish_msgs_per_s": statistics.median(publish),
            "backlog_raw_msgs_per_s": statistics.median(raws),
            "backlog_ingest_rows_per_s": statistics.median(drains),
            "backlog_ingest_vs_raw": statistics.median(d / r for d, r in zip(drains, raws)),
            "backlog_paho_alone_msgs_per_s": statistics.median(pahos),
            "backlog_ingest_vs_paho_alone": statistics.median(d / p for d, p in zip(drains, pahos)),
            "backlog_two_members_rows_per_s": _drain(store, [_ingest(kids, broker.port, db, ingest_log),
                                                             _ingest(kids, broker.port, db, ingest_log, "bench-ingest-2")]),
        })

        # ---------------------------------------------------------------- 3. check
        allocated = {s.path: s.outbox.last_seq + 1 for s in stations}
        counts: dict[str, list[int]] = {}
        for t in MESSAGE_TABLES:
            for station, n, lo, hi in store.query(f"SELECT station, COUNT(*), MIN(seq), MAX(seq) FROM {t} GROUP BY station"):
                c = counts.setdefault(station, [0, 1 << 62, -1])
                c[0], c[1], c[2] = c[0] + n, min(c[1], lo), max(c[2], hi)
        distinct = sum(store.query(f"SELECT COUNT(*) FROM (SELECT DISTINCT station, seq FROM {t})")[0][0] for t in MESSAGE_TABLES)
        total = _rows(store)
        lost = sum(allocated[s] - counts.get(s, [0])[0] for s in allocated)
        complete = all(counts.get(s, [0, 0, -1]) == [n, 0, n - 1] for s, n in allocated.items())
        figures.update({
            "messages_allocated": float(sum(allocated.values())),
            "rows_stored": float(total),
            "rows_lost": float(lost),
            "rows_duplicated": float(total - distinct),
            "every_seq_present": float(complete),
            "redeliveries_absorbed": float(_duplicates_reported(ingest_log)),
        })
        store.close()
        fleet.stop()
        fleet = None

        # ---------------------------------------------------------------- 4. driver cost
        threads = driver_cost(broker.port, "threads", N_COMPARE)
        selector = driver_cost(broker.port, "selector", N_COMPARE)
        figures.update({
            "threads_cpu_percent": threads["cpu_percent"], "threads_rss_mib": threads["rss_mib"], "threads_connected": threads["connected"],
            "selector_cpu_percent": selector["cpu_percent"], "selector_rss_mib": selector["rss_mib"],
            "selector_connected": selector["connected"],
        })
    finally:
        for proc in kids:
            _stop(proc)
        if fleet is not None:
            fleet.stop()
        broker.stop()
        shutil.rmtree(fleet_dir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    _print(figures)
    return figures


def _iso(t: float) -> str:
    """A wall time as the SQLite store writes it, for range queries."""
    from datetime import timezone

    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat()


def _print(f: dict[str, float]) -> None:
    print(f"county: {N} simulated stations, one mosquitto, countyctl ingest -> SQLite (WAL, synchronous=FULL)")
    print(f"  all stations connected in                {f['connect_all_s']:8.1f} s  (machine load average {f['load_average_1m_at_start']:.1f})")
    print(f"  live load ({LIVE_S:.0f} s): offered / stored    {f['live_offered_msgs_per_s']:8.0f} / {f['live_ingest_rows_per_s']:.0f} rows/s"
          f"  (mosquitto_sub {f['live_raw_msgs_per_s']:.0f} msg/s)")
    print(f"  alarm -> row latency median / p99 / max {f['alarm_to_row_median_ms']:8.1f} / {f['alarm_to_row_p99_ms']:.1f} / "
          f"{f['alarm_to_row_max_ms']:.1f} ms over {f['alarm_to_row_count']:.0f} alarm messages")
    print(f"  live CPU: fleet / ingest / mosquitto     {f['live_cpu_fleet_percent']:8.1f} / {f['live_cpu_ingest_percent']:.1f} / "
          f"{f['live_cpu_broker_percent']:.1f} % of one core; fleet RSS {f['fleet_rss_mib']:.0f} MiB")
    print(f"  backlog {N}x{BURST} (median of {ROUNDS} rounds):")
    print(f"  backlog: fleet queues+publishes          {f['fleet_backlog_publish_msgs_per_s']:8.0f} msg/s")
    print(f"  backlog drain: mosquitto_sub             {f['backlog_raw_msgs_per_s']:8.0f} msg/s")
    print(f"  backlog drain: paho alone (Python)       {f['backlog_paho_alone_msgs_per_s']:8.0f} msg/s")
    print(f"  backlog drain: countyctl ingest          {f['backlog_ingest_rows_per_s']:8.0f} rows/s  (ingest/raw {f['backlog_ingest_vs_raw']:.2f}, "
          f"ingest/paho {f['backlog_ingest_vs_paho_alone']:.2f})")
    print(f"  backlog drain: two ingest members        {f['backlog_two_members_rows_per_s']:8.0f} rows/s (shared subscription)")
    print(f"  rows: allocated {f['messages_allocated']:.0f}, stored {f['rows_stored']:.0f}, lost {f['rows_lost']:.0f}, "
          f"duplicated {f['rows_duplicated']:.0f}, every seq present {bool(f['every_seq_present'])}, redeliveries absorbed "
          f"{f['redeliveries_absorbed']:.0f}")
    print(f"  {N_COMPARE} stations, one Uplink thread each:    {f['threads_cpu_percent']:8.1f} % CPU, {f['threads_rss_mib']:.0f} MiB, "
          f"{f['threads_connected']:.0f} connected")
    print(f"  {N_COMPARE} stations, one selector loop:         {f['selector_cpu_percent']:8.1f} % CPU, {f['selector_rss_mib']:.0f} MiB, "
          f"{f['selector_connected']:.0f} connected")


if __name__ == "__main__":
    if sys.argv[1:2] == ["paho"]:
        alone, wanted = PahoAlone(int(sys.argv[2])), int(sys.argv[3])
        if wanted:
            print(alone.drain(wanted))
        else:
            alone.create_session()
            print(0)
    else:
        run()
