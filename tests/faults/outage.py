"""A long broker outage: a big backlog queues, the broker returns, alarms are raised mid-drain.

The station is a real `Station` with no sensors, so the only traffic is what the scenario makes:
`backlog` telemetry messages stored through `Station.publish` while the broker is down; then,
once the uplink has had 1/(n+1), 2/(n+1), ... of the backlog acknowledged, an alarm raised
through `Station.emit` (the path a camera or sensor rule takes). The figure is each alarm's delay
from `emit` to its arrival at a subscriber in another process, while the rest of the backlog is
still draining; the proof that it was served first is how much older telemetry arrived after it.

The station reaches the broker through a TCP forwarder (its link, `socat`), which comes back
only after the broker and the county's subscriber have: the drain then never starts before the
county is listening, so no alarm's delay includes the subscriber's own reconnection.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway.alarms import AlarmSignal
from gateway.localbroker import LocalBroker, free_port, wait_port
from gateway.station import Station
from gateway.uplink.outbox import TELEMETRY
from tests.faults.wire import Wire
from tests.stations import config_of, station_dict, wait_for
from wire.messages import Telemetry


@dataclass
class OutageReport:
    backlog: int
    outage_s: float = 0.0
    fill_s: float = 0.0
    drain_s: float = 0.0
    drain_msg_per_s: float = 0.0
    telemetry_delivered: int = 0
    telemetry_in_order: bool = False
    alarms_raised: int = 0
    alarms_delivered: int = 0
    alarm_delay_ms: list[float] = field(default_factory=list)
    alarm_delay_median_ms: float = 0.0
    alarm_delay_max_ms: float = 0.0
    overtaken: list[int] = field(default_factory=list)  # backlog messages each alarm arrived ahead of
    gaps: list[int] = field(default_factory=list)


class Link:
    """The station's way to the broker: a TCP forwarder that can be cut and restored."""

    def __init__(self, broker_port: int) -> None:
        exe = shutil.which("socat")
        assert exe, "socat is missing (installed by make test)"
        self.port = free_port()
        self._cmd = [exe, f"TCP-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork", f"TCP:127.0.0.1:{broker_port}"]
        self._proc: subprocess.Popen[bytes] | None = None

    def up(self) -> "Link":
        self._proc = subprocess.Popen(self._cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_port("127.0.0.1", self.port), "socat did not listen"
        return self

    def down(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None


def quiet_station(tmp: Path, port: int) -> Station:
    """No sensors: the only traffic is the scenario's."""
    return Station(config_of(station_dict(tmp, port, water_sensors=[], loudspeaker=None)))


def outage_drain(tmp: Path, backlog: int, alarms: int = 5, outage_s: float = 0.0) -> OutageReport:
    """Queue `backlog` telemetry with the broker down (for at least `outage_s`), restart it, raise `alarms` mid-drain."""
    report = OutageReport(backlog=backlog, alarms_raised=alarms)
    broker = LocalBroker(workdir=tmp / "broker", persistent=True).start()
    wire = Wire(broker.port, tmp / "wire.txt").start()  # a durable county session: misses nothing while it reconnects
    link = Link(broker.port).up()
    station = quiet_station(tmp, link.port)
    raised: dict[str, float] = {}
    statuses = lambda: wire.text().count('"kind":"status"')  # noqa: E731 - the retained status comes again at each subscription
    try:
        station.start()
        assert wait_for(lambda: station.uplink.stats.connected and statuses() >= 1, timeout=20)  # the birth arrived
        broker.stop()
        link.down()
        down_at = time.monotonic()
        assert wait_for(lambda: not station.uplink.stats.connected, timeout=20)
        topic = station.topics.telemetry("gauge-1")
        for i in range(backlog):
            station.publish(topic, TELEMETRY, lambda env, i=i: Telemetry(**env, sensor="gauge-1", values={"level_m": 1.0, "i": i}))
        report.fill_s = time.monotonic() - down_at
        time.sleep(max(0.0, outage_s - report.fill_s))
        report.outage_s = time.monotonic() - down_at
        assert station.outbox.stats().depth >= backlog
        seen = statuses()
        broker.start()
        assert wait_for(lambda: statuses() > seen, timeout=60)  # the county is back and subscribed
        acked_before, remaining = station.uplink.stats.acked, station.outbox.stats().depth
        link.up()  # then the station's link
        for k in range(1, alarms + 1):  # spread over the first 80 %: the last still has a backlog to overtake
            threshold = acked_before + int(remaining * 0.8) * k // alarms
            assert wait_for(lambda: station.uplink.stats.acked >= threshold, timeout=120), station.uplink.stats
            source = f"probe-{k}"
            raised[source] = time.time()  # the wire stamps arrivals with the wall clock
            station.emit(AlarmSignal("drain_probe", source, True, severity="danger", summary=f"alarm raised while the backlog drains ({k})"))
        done = lambda: wire.text().count('"kind":"telemetry"') >= backlog and wire.text().count('"drain_probe"') >= alarms  # noqa: E731
        assert wait_for(done, timeout=180, interval=0.5), station.outbox.stats()
    finally:
        station.stop()
        link.down()
        wire.stop()
        broker.stop()
    arrivals = wire.arrivals()
    tele = [a for a in arrivals if a.doc.get("kind") == "telemetry"]
    first: dict[int, int] = {}
    for idx, a in enumerate(tele):
        first.setdefault(a.doc["seq"], idx)
    order = sorted(first, key=first.__getitem__)
    report.telemetry_delivered = len(first)
    report.telemetry_in_order = order == sorted(order)
    every = {a.doc["seq"] for a in arrivals if a.doc.get("kind") != "status"}
    report.gaps = [s for s in range(min(every), max(every) + 1) if s not in every] if every else []
    if tele:
        report.drain_s = tele[-1].t - tele[0].t
        report.drain_msg_per_s = round(len(tele) / max(report.drain_s, 1e-6))
    probes = {a.doc["source"]: a for a in arrivals if a.doc.get("alarm") == "drain_probe" and a.doc.get("state") == "raised"}
    report.alarms_delivered = len(probes)
    position = {id(a): i for i, a in enumerate(arrivals)}
    for source, t0 in raised.items():
        a = probes.get(source)
        if a is None:
            continue
        report.alarm_delay_ms.append(round((a.t - t0) * 1000, 1))
        after = arrivals[position[id(a)] + 1:]
        report.overtaken.append(sum(1 for b in after if b.doc.get("kind") == "telemetry" and b.doc["seq"] < a.doc["seq"]))
    if report.alarm_delay_ms:
        report.alarm_delay_median_ms = statistics.median(report.alarm_delay_ms)
        report.alarm_delay_max_ms = max(report.alarm_delay_ms)
    return report
