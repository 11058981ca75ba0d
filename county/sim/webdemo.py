"""`make web-demo`: the county web view over a small simulated county, on this machine.

Starts a private mosquitto, the county ingest (SQLite), three `station-gateway run` processes
built from the examples (the flooding bridge and the pond with the real model on real video in
township xiaoqi, a second bridge in township dongfeng), a county signing key that the stations
trust, two operator accounts, and `countyctl serve`. Open the printed address, log in, watch
alarms arrive, acknowledge them and make announcements; Ctrl-C stops everything.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console

from county.accounts import Accounts
from county.ingest import Ingest
from county.keys import generate
from county.store import Store
from gateway.localbroker import LocalBroker

console = Console(highlight=False)
PASSWORD = "demo-password"
OPERATORS = [("duty", "410421", "值班长 王明"), ("xiaoqi", "410421/xiaoqi", "小旗乡 李娟")]


def station_doc(example: Path, workdir: Path, port: int, public_key: str, **station: str | float) -> dict[str, Any]:
    """An example station pointed at a private broker, with its own outbox and speaker record, trusting `public_key`."""
    doc: dict[str, Any] = copy.deepcopy(yaml.safe_load(example.read_text(encoding="utf-8")))
    doc["station"].update(station)
    sid = doc["station"]["id"]
    doc["broker"] = {**doc.get("broker", {}), "host": "127.0.0.1", "port": port}
    doc["outbox"] = {**doc.get("outbox", {}), "path": str(workdir / sid / "outbox.db")}
    doc["loudspeaker"]["driver"]["record_dir"] = str(workdir / sid / "speaker")
    doc["commands"] = {"keys": [{"name": "county-demo", "public_key": public_key}]}
    return doc


def station_file(example: Path, workdir: Path, port: int, public_key: str, **station: str | float) -> Path:
    """`station_doc` written as `<workdir>/<id>.yaml`, for a `station-gateway run` process."""
    doc = station_doc(example, workdir, port, public_key, **station)
    path = workdir / f"{doc['station']['id']}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class CountyCenter:
    """A county center on one machine: broker, database with operators, signing key, ingest."""

    broker: LocalBroker
    db_url: str
    key_file: Path
    public_key: str
    store: Store
    ingest: Ingest

    def stop(self) -> None:
        self.ingest.stop()
        self.store.close()
        self.broker.stop()


def start_center(workdir: Path, operators: list[tuple[str, str, str]], password: str, persistent: bool = False,
                 ingest_id: str = "county-web-demo-ingest") -> CountyCenter:
    """Start a private broker and the ingest over a fresh SQLite database holding `operators` (name, scope, display name)."""
    broker = LocalBroker(workdir=workdir / "broker", persistent=persistent).start()
    db_url = f"sqlite:///{workdir / 'county.db'}"
    key_file = workdir / "county.key"
    public_key, _ = generate(key_file)
    store = Store(db_url)
    accounts = Accounts(store)
    for name, scope, display in operators:
        accounts.add(name, password, scope, display)
    ingest = Ingest(store, "127.0.0.1", broker.port, client_id=ingest_id, group="").start()
    if not ingest.connected.wait(10):
        raise RuntimeError(f"the ingest could not connect to the private broker on port {broker.port}")
    return CountyCenter(broker, db_url, key_file, public_key, store, ingest)


def main(
    listen: str = typer.Option("127.0.0.1:8080", help="HOST:PORT of the web view."),
    duration: float = typer.Option(0.0, help="Stop after this many seconds (0: until Ctrl-C)."),
    workdir: Path = typer.Option(Path("var/web-demo"), help="Where the demo keeps its broker, database, keys and logs (emptied first)."),
) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    center = start_center(workdir, OPERATORS, PASSWORD, persistent=True)
    broker, db_url, key_file, public_key, ingest = center.broker, center.db_url, center.key_file, center.public_key, center.ingest
    examples = Path("examples")
    files = [
        station_file(examples / "sim-station.yaml", workdir, broker.port, public_key),
        station_file(examples / "pond-station.yaml", workdir, broker.port, public_key),
        station_file(examples / "sim-station.yaml", workdir, broker.port, public_key, town="dongfeng", village="liuzhuang", id="ferry-02",
                     name="刘庄渡口", town_name="东风乡", village_name="刘庄村", lat=33.92, lon=113.20),
    ]
    procs: list[subprocess.Popen[bytes]] = []
    for f in files:
        procs.append(subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config", str(f)],
                                      stdout=(workdir / f"{f.stem}.log").open("wb"), stderr=subprocess.STDOUT))
    serve = subprocess.Popen([sys.executable, "-m", "county.cli", "serve", "--db", db_url, "--broker", f"127.0.0.1:{broker.port}",
                              "--key", str(key_file), "--listen", listen, "--secret-file", str(workdir / "session.secret")],
                             stdout=(workdir / "serve.log").open("wb"), stderr=subprocess.STDOUT)
    procs.append(serve)
    console.rule("county web view demo")
    console.print(f"open [bold]http://{listen}/[/bold] and log in as [bold]duty[/bold] (whole county) or [bold]xiaoqi[/bold] "
                  f"(one township), password [bold]{PASSWORD}[/bold]")
    console.print(f"stations: {', '.join(f.stem for f in files)}; broker 127.0.0.1:{broker.port}; logs in {workdir}/")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    t0 = time.monotonic()
    try:
        while not stop.wait(1.0):
            if duration and time.monotonic() - t0 >= duration:
                break
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                console.print(f"[bold red]a demo process exited (code {dead[0].returncode}); see the logs in {workdir}/")
                break
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        center.stop()
    console.print(f"stored: {ingest.stats.stored} messages, {ingest.stats.snapshots} snapshots; audit log: countyctl operator audit --db {db_url}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    typer.run(main)
