"""Many simulated stations on one thread: paho clients driven by one selector loop.

Why not one gateway `Uplink` per station: each Uplink owns a thread that polls its client with
paho's `loop()` every 50 ms. That is right for one station on a Pi and wrong for a thousand in
one process: paho's `loop()` waits in select(), which cannot watch a file descriptor above 1023,
so past about 150 stations (a socket, a socket pair and three SQLite files each) new connections
fail; and below that, a hundred polling threads already cost more than twice the CPU of this
loop (BENCHMARKS.md, section county). Here each station still has its own paho client (own
connection, own Will, own clean session), its own `Outbox`, and the Uplink's own code for
everything but the thread: the client set-up, birth, goodbye and in-flight window of
`gateway.uplink.session`, and the `gateway.uplink.drain.Drain` (alarms ahead of telemetry, rows
deleted only after PUBACK, in batches, everything unacknowledged republished from the outbox in
seq order after a reconnect). The clients are driven with paho's external-loop API
(`loop_read`, `loop_write`, `loop_misc`) from one epoll selector; scenario steps are kept in a
heap by due time, so a quiet fleet costs little (keepalive checks once a second).
"""

from __future__ import annotations

import heapq
import logging
import queue
import random
import selectors
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import paho.mqtt.client as mqtt

from county.sim.station import SimStation
from foundation.backoff import backoff_delay
from gateway.config.station import BrokerConfig
from gateway.uplink.drain import Drain
from gateway.uplink.session import Presence, announce, fill_window, make_session_client, say_goodbye

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LinkConfig:
    host: str
    port: int
    keepalive_s: int = 30
    max_inflight: int = 100
    prefetch: int = 500
    connect_timeout_s: float = 10.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0

    def broker(self) -> BrokerConfig:
        """The same settings as a station's broker section, for the gateway's client set-up."""
        return BrokerConfig(host=self.host, port=self.port, keepalive_s=self.keepalive_s, max_inflight=self.max_inflight,
                            connect_timeout_s=self.connect_timeout_s, backoff_initial_s=self.backoff_initial_s,
                            backoff_max_s=self.backoff_max_s)


@dataclass
class FleetStats:
    connected: int = 0
    connects: int = 0
    disconnects: int = 0
    published: int = 0
    acked: int = 0
    busy_steps: int = 0  # scenario steps that queued at least one message
    commands: int = 0


class Link:
    """One station's MQTT connection on the shared loop (the Uplink's policy, without its thread)."""

    def __init__(self, station: SimStation, cfg: LinkConfig, fleet: "SelectorFleet") -> None:
        self.station = station
        self.cfg = cfg
        self.fleet = fleet
        self.presence = Presence(station.client_id, station.topics.status, station.topics.commands, station.status_payload)
        self.drain = Drain(station.outbox, cfg.max_inflight, cfg.prefetch)
        self.client: mqtt.Client | None = None
        self.up = False
        self.lost = False
        self.connect_deadline = 0.0
        self.attempt = 0
        self.write_interest = False

    # ------------------------------------------------------------------ connection

    def connect(self) -> bool:
        c = make_session_client(self.fleet.broker, self.presence, self._on_connect, self._on_disconnect, self._on_publish, self._on_message)
        c.on_socket_close = lambda client, userdata, sock: self.fleet.forget(sock)
        self.lost, self.up, self.write_interest = False, False, False
        try:
            c.connect(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        except (OSError, ValueError) as exc:
            log.debug("%s: cannot connect: %s", self.station.path, exc)
            return False
        self.client = c
        self.connect_deadline = time.monotonic() + self.cfg.connect_timeout_s
        self.fleet.watch(self, c.socket())
        return True

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            self.mark_lost()
            return
        announce(client, self.presence)
        self.up, self.attempt = True, 0
        self.fleet.stats.connected += 1
        self.fleet.stats.connects += 1
        self.fleet.dirty.add(self)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.mark_lost()

    def mark_lost(self) -> None:
        self.lost = True
        self.fleet.lost.add(self)

    def flush_out(self) -> None:
        """Write what paho queued; ask the selector for writability only while the socket is full."""
        c = self.client
        if c is None:
            return
        if c.want_write():
            c.loop_write()
        self.fleet.want_write(self, c.want_write())

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # noqa: ANN001
        if self.drain.puback(mid):
            self.fleet.stats.acked += 1
            self.fleet.dirty.add(self)
            self.fleet.acking.add(self)

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        self.fleet.stats.commands += 1
        self.station.on_command(message.topic, bytes(message.payload))
        self.fleet.dirty.add(self)

    def say_goodbye(self) -> mqtt.MQTTMessageInfo | None:
        """Publish the clean-stop status; the caller waits for its PUBACK before `teardown`."""
        if self.client is None or not self.up:
            return None
        info = say_goodbye(self.client, self.presence)
        self.flush_out()
        return info

    def teardown(self, disconnect: bool = False) -> None:
        """Close the connection; what was not PUBACKed stays in the outbox and goes out again next time."""
        self.flush_acks()
        c, self.client = self.client, None
        if c is not None:
            if disconnect and self.up:
                c.disconnect()  # paho writes DISCONNECT (no Will) and closes the socket
            sock = c.socket()
            if sock is not None:
                self.fleet.forget(sock)
                try:
                    sock.close()
                except OSError:
                    pass
        if self.up:
            self.fleet.stats.connected -= 1
            self.fleet.stats.disconnects += 1
        self.up = False
        self.drain.reset()

    # ------------------------------------------------------------------ draining the outbox

    def fill(self) -> None:
        c = self.client
        if c is None or not self.up:
            return
        published, error = fill_window(c, self.drain)
        self.fleet.stats.published += published
        if error:
            self.mark_lost()

    def flush_acks(self) -> None:
        self.drain.flush_acks(time.monotonic(), force=True)


class SelectorFleet:
    """Runs the links and scenarios of many SimStations on one thread."""

    ACK_FLUSH_S = 0.02
    MISC_S = 1.0

    def __init__(self, stations: list[SimStation], cfg: LinkConfig, ramp_s: float = 2.0, scenario: bool = True, seed: int = 0) -> None:
        self.stations = stations
        self.cfg = cfg
        self.broker = cfg.broker()
        self.links = [Link(s, cfg, self) for s in stations]
        self.stats = FleetStats()
        self.scenario = scenario
        self.dirty: set[Link] = set()
        self.acking: set[Link] = set()
        self.lost: set[Link] = set()
        self._sel = selectors.DefaultSelector()
        self._rng = random.Random(seed)
        self._calls: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()  # work handed in by other threads
        self._stop = threading.Event()
        self._goodbye = True
        self._thread: threading.Thread | None = None
        now = time.monotonic()
        # (when, order, link): connection attempts, spread over the ramp
        self._retry: list[tuple[float, int, Link]] = [(now + ramp_s * i / max(1, len(self.links)), i, link) for i, link in enumerate(self.links)]
        self._ticks: list[tuple[float, int, Link]] = [(s.state.due, i, link) for i, (s, link) in enumerate(zip(stations, self.links))]
        heapq.heapify(self._ticks)
        self._order = len(self.links)

    # ------------------------------------------------------------------ selector bookkeeping (called by links)

    def watch(self, link: Link, sock: Any) -> None:
        self._sel.register(sock, selectors.EVENT_READ, link)

    def want_write(self, link: Link, want: bool) -> None:
        c = link.client
        if want == link.write_interest or c is None or c.socket() is None:
            return
        link.write_interest = want
        self._sel.modify(c.socket(), selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0), link)

    def forget(self, sock: Any) -> None:
        try:
            self._sel.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass

    # ------------------------------------------------------------------ control from other threads

    def start(self) -> "SelectorFleet":
        self._thread = threading.Thread(target=self.run, name="fleet", daemon=True)
        self._thread.start()
        return self

    def call(self, fn: Callable[[], T], timeout: float = 60.0) -> T:
        """Run `fn` on the loop thread (the stations' state belongs to it) and return its result."""
        fut: Future[T] = Future()
        self._calls.put((fn, fut))
        return fut.result(timeout)

    def stop(self, goodbye: bool = True, timeout: float = 10.0) -> None:
        """goodbye=False drops the connections without a word, so the broker publishes every Will."""
        if self._stop.is_set():
            return
        self._goodbye = goodbye
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for s in self.stations:
            s.close()

    def connected(self) -> int:
        return self.stats.connected

    def pending(self) -> int:
        """Messages still in the stations' outboxes (not yet PUBACKed)."""
        return sum(s.outbox.stats().depth for s in self.stations)

    # ------------------------------------------------------------------ the loop

    def run(self) -> None:
        next_misc = time.monotonic() + self.MISC_S
        next_flush = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            timeout = 0.0 if self.dirty else (self.ACK_FLUSH_S if self.acking else 0.05)
            if self._retry:
                timeout = min(timeout, max(0.0, self._retry[0][0] - now))
            if self.scenario and self._ticks:
                timeout = min(timeout, max(0.0, self._ticks[0][0] - now))
            for key, mask in self._sel.select(timeout):
                link: Link = key.data
                if link.client is not None and mask & selectors.EVENT_READ:
                    link.client.loop_read()
                if link.client is not None and mask & selectors.EVENT_WRITE:
                    link.client.loop_write()
                link.flush_out()
            now = time.monotonic()
            self._run_calls()
            self._connect_due(now)
            if self.scenario:
                self._tick_due(now)
            dirty, self.dirty = self.dirty, set()
            for link in dirty:
                link.fill()
                link.flush_out()
            if now >= next_flush:
                for link in self.acking:
                    link.flush_acks()
                self.acking.clear()
                next_flush = now + self.ACK_FLUSH_S
            if now >= next_misc:
                self._misc(now)
                next_misc = now + self.MISC_S
            self._reap(now)
        self._shutdown()

    def _run_calls(self) -> None:
        while True:
            try:
                fn, fut = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                fut.set_result(fn())
            except Exception as exc:  # noqa: BLE001 - handed back to the caller
                fut.set_exception(exc)
            self.dirty.update(self.links)

    def _connect_due(self, now: float) -> None:
        started = 0
        while self._retry and self._retry[0][0] <= now and started < 200:
            _, _, link = heapq.heappop(self._retry)
            started += 1
            if not link.connect():
                self._schedule_retry(link, now)

    def _schedule_retry(self, link: Link, now: float) -> None:
        delay = backoff_delay(link.attempt, self.cfg.backoff_initial_s, self.cfg.backoff_max_s, self._rng)
        link.attempt += 1
        self._order += 1
        heapq.heappush(self._retry, (now + delay, self._order, link))

    def _tick_due(self, now: float) -> None:
        while self._ticks and self._ticks[0][0] <= now:
            _, order, link = heapq.heappop(self._ticks)
            if link.station.tick(now):
                self.stats.busy_steps += 1
                self.dirty.add(link)
            heapq.heappush(self._ticks, (link.station.state.due, order, link))

    def _misc(self, now: float) -> None:
        """Keepalive pings and connection timeouts, once a second."""
        for link in self.links:
            if link.client is not None:
                link.client.loop_misc()
                link.flush_out()
                if not link.up and now > link.connect_deadline:
                    link.mark_lost()

    def _reap(self, now: float) -> None:
        lost, self.lost = self.lost, set()
        for link in lost:
            link.teardown()
            link.lost = False
            self._schedule_retry(link, now)

    def _shutdown(self) -> None:
        if self._goodbye:
            infos = [i for i in (link.say_goodbye() for link in self.links) if i is not None]
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and not all(i.is_published() for i in infos):
                for key, mask in self._sel.select(0.05):
                    link: Link = key.data
                    if link.client is not None:
                        link.client.loop_read() if mask & selectors.EVENT_READ else link.client.loop_write()
                        link.flush_out()
        for link in self.links:
            link.teardown(disconnect=self._goodbye)
        self._sel.close()
