"""The fleet update story, end to end with real parts: a station installed from a bundle (9.0.1) takes 9.0.2 from
the county over a link that drops mid-download and a broker that is away during the switch, keeps it, keeps the
alarm it raised meanwhile and delivers it; a broken 9.0.3 (its gateway dies at import) is rolled back by the guard;
tampered bundles are refused with nothing installed. The 9.0.3 step, and a last one to the version already running, go
through the county's real `countyctl update` in its own process (its file server, its search for the station by the
broker's retained status, its canary, its exit status and JSON lines); the 9.0.2 step needs a link cut mid-download,
so it is sent by the test with its own server that can cut.

Real: mosquitto, the project's wheels built in the test at three versions, bundles from `packaging/bundle.py`
(host mode), venvs installed from them with pip and no index, the gateway processes, the county's signed command
form, an HTTP server with Range. Played by the test: systemd (`tests/update/supervisor.py`; it cannot run here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from county.accounts import Accounts
from county.feed import FeedCollector, FeedSubscriber
from county.store import Store
from gateway.localbroker import LocalBroker, free_port
from gateway.update import guard
from gateway.update.download import sha256_file
from tests.commands.conftest import PREFIX, STATION, commands_doc, signed
from tests.stations import wait_for, write_station
from tests.update.conftest import ROOT, Release, install_first
from tests.update.serve import Served, serving
from tests.update.supervisor import Supervisor
from wire.commands import INTERIM_OUTCOMES
from wire.signing import private_to_pem

DEADLINE_S = 120  # the deadline a new version has to come up in (the signed documents' default, see Release.args)
RISE_AT_S = 25  # the gauge reaches danger this long after a gateway starts: after the broker is stopped below


def publish(port: int, doc: dict[str, Any]) -> None:
    """The county's signed command onto the station's command topic (as `countyctl send` does)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(f"{PREFIX}/cmd/{doc['name']}", json.dumps(doc).encode(), qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def of_kind(feed: FeedCollector, kind: str) -> list[dict[str, Any]]:
    with feed.lock:
        return [m for m in feed.messages if m["kind"] == kind]


def replies(feed: FeedCollector, command_id: str) -> list[dict[str, Any]]:
    return [m for m in of_kind(feed, "reply") if m["command_id"] == command_id]


def final(feed: FeedCollector, command_id: str) -> dict[str, Any] | None:
    done = [m for m in replies(feed, command_id) if m["outcome"] not in INTERIM_OUTCOMES]
    return done[-1] if done else None


def online_as(feed: FeedCollector, version: str) -> bool:
    return any(m["online"] and m["version"] == version for m in of_kind(feed, "status"))


def danger_alarms(feed: FeedCollector) -> list[dict[str, Any]]:
    return [m for m in of_kind(feed, "alarm") if m["alarm"] == "water_level" and m["severity"] == "danger"]


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def county_key_file(key: Ed25519PrivateKey, path: Path) -> Path:
    """The county's key as `countyctl keygen` leaves it: PEM, readable by its owner only."""
    path.write_bytes(private_to_pem(key))
    path.chmod(0o600)
    return path


def countyctl_update(what: list[str], key_file: Path, broker_port: int, db: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    """The county's real tool in its own process, as an operator runs it, sending `what` (`--bundle FILE` ...):
    (exit status, its JSON line per station, what it said)."""
    done = subprocess.run(
        [sys.executable, "-m", "county.cli", "update", *what, "--stations", STATION, "--key", str(key_file),
         "--broker", f"127.0.0.1:{broker_port}", "--canary", "1", "--json", "--yes", "--serve-on", f"127.0.0.1:{free_port()}",
         "--deadline", str(DEADLINE_S), "--db", db, "--lang", "en"],
        cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE_S + 600, check=False)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, {str(r["station"]): r for r in rows}, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr[-3000:]}"


def county_audit(db: str) -> list[tuple[str, str, str]]:
    """The county's audit log of updates, oldest first: (station, outcome, command id)."""
    store = Store(db)
    try:
        return [(e.target, e.outcome, e.command_id or "") for e in reversed(Accounts(store).audit()) if e.action == "update"]
    finally:
        store.close()


def tampered_inside(release: Release, work: Path, version: str) -> Path:
    """The release's bundle with one byte of its gateway wheel changed and VERSION set to `version`, re-packed:
    the outer sha256 the county declares is this file's own, so only the manifest inside can tell."""
    with tarfile.open(release.tarball) as tar:
        tar.extractall(work, filter="data")
    [top] = [p for p in work.iterdir() if p.is_dir()]
    wheel = next((top / "wheels").glob("village_station_gateway-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0x01
    wheel.write_bytes(bytes(data))
    (top / "VERSION").write_text(version + "\n")
    out = work.parent / f"inside-{version}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_station_takes_an_update_keeps_its_outbox_rolls_back_a_broken_version_and_refuses_tampered_bundles(
        tmp_path: Path, county_key: Ed25519PrivateKey, releases: dict[str, Release]) -> None:
    started = time.monotonic()
    root = tmp_path / "opt"
    root.mkdir()
    install_first(releases["9.0.1"], root, tmp_path)
    broker = LocalBroker(workdir=tmp_path / "broker", persistent=True)  # the county's broker keeps a durable session's messages
    broker.start()
    doc = commands_doc(tmp_path, broker.port, county_key)
    gauge = doc["water_sensors"][0]
    gauge["driver"]["scenario"] = [{"at_s": 0, "level_m": 0.5}, {"at_s": RISE_AT_S, "level_m": 2.5}]
    gauge.update(telemetry_interval_s=60, stale_after_s=30)
    doc["health"]["loop_stall_s"] = 6  # a new version commits after a whole stall period with every loop beating
    config = write_station(tmp_path / "station.yaml", doc)
    feed = FeedCollector()
    sub = FeedSubscriber("127.0.0.1", broker.port, "vs/v1", feed, client_id="county-feed", durable=True).start()
    log = tmp_path / "gateway.log"
    served = Served()
    key_file = county_key_file(county_key, tmp_path / "county.key")
    county_db = f"sqlite:///{tmp_path / 'county.db'}"
    try:
        with serving(served), Supervisor(root, config, tmp_path / "run", log) as systemd:
            assert wait_for(lambda: online_as(feed, "9.0.1"), timeout=90), tail(log)

            # 9.0.2: the link drops halfway (the server cuts it), and the broker is away while the station switches
            v2 = releases["9.0.2"]
            served.files["v2.tar.gz"] = v2.tarball
            served.cut_first_at["v2.tar.gz"] = v2.size // 2
            up2 = signed(county_key, "update", v2.args(served.url("v2.tar.gz")), ttl=3600)
            publish(broker.port, up2)
            assert served.cut_done.wait(60), tail(log)
            assert not danger_alarms(feed), f"the gauge rose before the broker was stopped (machine too slow for RISE_AT_S): {tail(log)}"
            broker.stop()
            speaker = tmp_path / "speaker" / "plays.jsonl"
            assert wait_for(lambda: speaker.exists() and speaker.stat().st_size > 0, timeout=RISE_AT_S + 60), tail(log)  # raised while offline
            served.release.set()  # the cut: the station asks for the rest
            assert wait_for(lambda: "9.0.2" in systemd.starts, timeout=300), tail(log)
            broker.start()
            assert wait_for(lambda: final(feed, up2["id"]), timeout=180), tail(log)
            outcomes = [m["outcome"] for m in replies(feed, up2["id"])]
            assert outcomes[0] == "downloading" and outcomes[-2:] == ["restarting", "updated"], outcomes
            restarting, updated = replies(feed, up2["id"])[-2:]
            assert restarting["result"] == {"from": "9.0.1", "to": "9.0.2"}
            assert updated["ok"] and updated["result"] == {"version": "9.0.2", "previous": "9.0.1"}
            assert ("v2.tar.gz", v2.size // 2) in served.ranges  # resumed where the link dropped, not from the start
            assert wait_for(lambda: online_as(feed, "9.0.2"), timeout=30)
            assert danger_alarms(feed), "the alarm raised by 9.0.1 while offline was not delivered by 9.0.2"
            assert os.readlink(root / "current") == "9.0.2" and (root / "9.0.1" / "bin" / "station-gateway").exists()
            assert not (root / guard.TRIAL).exists()

            # 9.0.3 cannot start at all: sent by the real `countyctl update` (its own file server, the station found
            # by its retained status), the guard counts its failed starts and switches back, the county exits 1
            v3 = releases["9.0.3"]
            code, lines, said = countyctl_update(["--bundle", str(v3.tarball)], key_file, broker.port, county_db)
            assert code == 1, f"{said}\n{tail(log)}"
            line = lines.get(STATION)
            assert line is not None and line["state"] == "rolled_back" and line["phase"] == "canary", said
            assert "did not come up" in str(line["reason"]) and (line["from"], line["to"]) == ("9.0.2", "9.0.3"), line
            up3 = {"id": str(line["command_id"])}
            assert wait_for(lambda: final(feed, up3["id"]), timeout=30), tail(log)
            outcomes = [m["outcome"] for m in replies(feed, up3["id"])]
            assert outcomes[0] == "downloading" and "restarting" in outcomes, outcomes  # from the county's own server
            assert [(target, outcome) for target, outcome, cid in county_audit(county_db) if cid == up3["id"]] == [
                (STATION, "sent"), (STATION, "rolled_back")]
            rolled = final(feed, up3["id"])
            assert rolled is not None and rolled["outcome"] == "rolled_back" and not rolled["ok"]
            assert rolled["result"]["version"] == "9.0.2" and rolled["result"]["failed"] == "9.0.3"
            assert "did not come up" in rolled["reason"], rolled["reason"]
            assert systemd.starts.count("9.0.3") == guard.MAX_STARTS and systemd.starts[-1] == "9.0.2"
            assert os.readlink(root / "current") == "9.0.2"
            assert "update_rolled_back" in [m["notice"] for m in of_kind(feed, "notice")]

            # tampered: one byte changed in transit (the declared sha256 is the genuine bundle's) ...
            genuine = releases["9.0.2"]
            flipped = bytearray(genuine.tarball.read_bytes())
            flipped[len(flipped) // 3] ^= 0x01
            (tmp_path / "flipped.tar.gz").write_bytes(bytes(flipped))
            served.files["flipped.tar.gz"] = tmp_path / "flipped.tar.gz"
            transit = signed(county_key, "update", {**genuine.args(served.url("flipped.tar.gz")), "version": "9.0.4"}, ttl=3600)
            # ... and one byte changed inside a re-packed bundle whose outer sha256 is declared as its own
            inside = tampered_inside(genuine, tmp_path / "inside", "9.0.5")
            served.files["inside.tar.gz"] = inside
            repacked = signed(county_key, "update", {"kind": "software", "version": "9.0.5", "url": served.url("inside.tar.gz"),
                                                     "size": inside.stat().st_size, "sha256": sha256_file(inside)}, ttl=3600)
            for cmd in (transit, repacked):
                publish(broker.port, cmd)
                assert wait_for(lambda: final(feed, cmd["id"]), timeout=120), tail(log)  # noqa: B023 - waited on at once
            for cmd, where in ((transit, "sha256 of the download"), (repacked, "manifest")):
                answer = final(feed, cmd["id"])
                assert answer is not None and answer["outcome"] == "refused" and answer["result"]["code"] == "tampered", answer
                assert where in answer["reason"], answer["reason"]
            assert not (root / "9.0.4").exists() and not (root / "9.0.5").exists() and os.readlink(root / "current") == "9.0.2"
            assert not list((tmp_path / "updates").glob("*.part")) if (tmp_path / "updates").exists() else True

            # the version already running: updated at once, nothing downloaded
            again = signed(county_key, "update", genuine.args(served.url("nowhere.tar.gz")), ttl=3600)
            publish(broker.port, again)
            assert wait_for(lambda: final(feed, again["id"]), timeout=30)
            assert final(feed, again["id"])["outcome"] == "updated"  # type: ignore[index]
            # ... and through `countyctl update`: exit 0, `updated` at once
            code, lines, said = countyctl_update(["--bundle", str(genuine.tarball)], key_file, broker.port, county_db)
            assert code == 0 and set(lines) == {STATION}, said
            assert (lines[STATION]["state"], lines[STATION]["from"], lines[STATION]["to"]) == ("updated", "9.0.2", "9.0.2"), said
            assert not [m for m in replies(feed, str(lines[STATION]["command_id"])) if m["outcome"] == "downloading"]
            assert systemd.exits.count(75) == 2  # 9.0.1 -> 9.0.2, 9.0.2 -> 9.0.3; no other restart
    finally:
        sub.client.loop_stop()
        sub.client.disconnect()
        broker.stop()
    print(f"\nfleet update story: {time.monotonic() - started:.0f} s (bundles built before: see the releases fixture)")
