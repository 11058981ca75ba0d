"""The example county broker (examples/mosquitto) run for real: TLS, mutual TLS, passwords, per-station ACLs.

Certificates come from the example's own make-certs.sh (openssl) at test time; no key is
committed. The broker runs the example mosquitto.conf and acl with only paths and ports changed.
"""

from __future__ import annotations

import logging
import os
import secrets
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from county.cli import app
from county.feed import FeedCollector
from county.keys import generate, load_signing_key
from county.send import BrokerOptions, make_client, send_and_wait
from gateway.localbroker import LocalBroker, free_port
from gateway.station import Station
from tests.commands.conftest import quiet_doc, signed
from tests.stations import config_of, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mosquitto"
TEST_02 = "410421/xiaoqi/zhuwa/test-02"
OTHER_TOWN = "410421/dongcun/hewan/pond-09"
COUNTY_USER, TOWN_USER = "county@410421", "township@410421.xiaoqi"


@dataclass
class Pki:
    dir: Path
    station_port: int
    account_port: int
    passwords: dict[str, str]

    def cert(self, station: str) -> tuple[Path, Path]:
        base = self.dir / "stations" / station.replace("/", "-")
        return Path(f"{base}.crt"), Path(f"{base}.key")

    def account(self, user: str, password: str | None = None) -> BrokerOptions:
        pw = self.dir / f"pw-{secrets.token_hex(4)}"
        pw.write_text(password if password is not None else self.passwords[user])
        return BrokerOptions("127.0.0.1", self.account_port, ca_file=self.dir / "ca.crt", username=user, password_file=pw)

    def station_options(self, station: str) -> BrokerOptions:
        crt, key = self.cert(station)
        return BrokerOptions("127.0.0.1", self.station_port, ca_file=self.dir / "ca.crt", cert_file=crt, key_file=key)


def make_certs(directory: Path, *args: str) -> None:
    subprocess.run([str(EXAMPLE / "make-certs.sh"), *args], check=True, env={**os.environ, "VS_PKI_DIR": str(directory)},
                   capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pki]:
    d = tmp_path_factory.mktemp("pki")
    make_certs(d, "ca")
    make_certs(d, "server", "localhost", "127.0.0.1")
    for station in ("410421/xiaoqi/zhuwa/test-01", TEST_02, "410421/xiaoqi/zhuwa/test-04", OTHER_TOWN):
        make_certs(d, "station", station)
    rogue = d / "rogue"
    make_certs(rogue, "ca")
    make_certs(rogue, "station", TEST_02)
    passwords = {COUNTY_USER: secrets.token_urlsafe(16), TOWN_USER: secrets.token_urlsafe(16),
                 "410421/xiaoqi/zhuwa/test-03": secrets.token_urlsafe(16)}
    for i, (user, pw) in enumerate(passwords.items()):
        subprocess.run(["mosquitto_passwd", *(["-c"] if i == 0 else []), "-b", str(d / "passwords"), user, pw], check=True, timeout=30)
    (d / "acl").write_text((EXAMPLE / "acl").read_text())
    station_port, account_port = free_port(), free_port()
    conf = ((EXAMPLE / "mosquitto.conf").read_text()
            .replace("/etc/mosquitto/vs/", f"{d}/")
            .replace("listener 8883\n", f"listener {station_port} 127.0.0.1\n")
            .replace("listener 8884\n", f"listener {account_port} 127.0.0.1\n"))
    assert str(station_port) in conf and str(account_port) in conf
    broker = LocalBroker(port=station_port, workdir=d / "broker", listener_config=conf + "\n").start()
    yield Pki(d, station_port, account_port, passwords)
    broker.stop()


class Watcher:
    """A TLS subscriber that records what an account is allowed to see."""

    def __init__(self, opts: BrokerOptions, topic: str, client_id: str = "") -> None:
        self.collector = FeedCollector()
        self.raw: list[str] = []
        self.granted = threading.Event()
        self.client = make_client(opts, client_id)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1) if not rc.is_failure else None
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.granted.set()
        self.client.on_message = self._on_message
        self.client.connect(opts.host, opts.port)
        self.client.loop_start()
        assert self.granted.wait(10), "could not subscribe"

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        self.raw.append(message.topic)
        self.collector.handle(message.topic, bytes(message.payload), bool(message.retain))

    def seen(self, fragment: str) -> bool:
        return any(fragment in t for t in self.raw)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher(opts: BrokerOptions, client_id: str = "") -> mqtt.Client:
    c = make_client(opts, client_id)
    connected = threading.Event()
    c.on_connect = lambda cl, u, f, rc, p: connected.set() if not rc.is_failure else None
    c.connect(opts.host, opts.port)
    c.loop_start()
    assert connected.wait(10)
    return c


def connects(opts: BrokerOptions, timeout: float = 3.0, client_id: str = "") -> bool:
    """True only if the broker accepts this client (CONNACK success)."""
    c = make_client(opts, client_id)
    answered, accepted = threading.Event(), []
    c.on_connect = lambda cl, u, f, rc, p: (accepted.append(not rc.is_failure), answered.set())
    c.on_disconnect = lambda cl, u, f, rc, p: answered.set()  # the broker hung up: TLS or authentication refused
    try:
        c.connect(opts.host, opts.port)
    except (OSError, ssl.SSLError):
        return False
    c.loop_start()
    try:
        answered.wait(timeout)
        return accepted == [True]
    finally:
        c.disconnect()
        c.loop_stop()


def tls_station(tmp: Path, pki: Pki, station: str, key: Ed25519PrivateKey) -> Station:
    county, town, village, ident = station.split("/")
    doc = quiet_doc(tmp, pki.station_port, key)
    doc["station"] = {"county": county, "town": town, "village": village, "id": ident}
    crt, k = pki.cert(station)
    doc["broker"]["tls"] = {"ca_file": str(pki.dir / "ca.crt"), "cert_file": str(crt), "key_file": str(k)}
    s = Station(config_of(doc))
    s.start()
    assert wait_for(lambda: s.uplink.stats.connected, timeout=15), s.uplink.stats.last_error
    return s


def test_a_station_on_mutual_tls_answers_a_command_sent_by_countyctl_over_tls(pki: Pki, tmp_path: Path) -> None:
    generate(tmp_path / "county.key")
    county = Watcher(pki.account(COUNTY_USER), "vs/v1/410421/#")
    station = tls_station(tmp_path, pki, TEST_02, load_signing_key(tmp_path / "county.key"))
    try:
        assert wait_for(lambda: county.collector.status.get(TEST_02) is True)
        result = CliRunner().invoke(app, [
            "send", TEST_02, "status", "--key", str(tmp_path / "county.key"), "--broker", f"127.0.0.1:{pki.account_port}",
            "--ca", str(pki.dir / "ca.crt"), "--username", COUNTY_USER, "--password-env", "VS_TEST_BROKER_PW", "--timeout", "15",
        ], env={"VS_TEST_BROKER_PW": pki.passwords[COUNTY_USER]})
    finally:
        station.stop()
        county.close()
    assert result.exit_code == 0, result.output
    assert '"ok":true' in result.stdout.replace(" ", "") and pki.passwords[COUNTY_USER] not in result.output


def test_a_station_can_neither_speak_for_another_nor_read_its_commands(pki: Pki, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    county = Watcher(pki.account(COUNTY_USER), "vs/v1/410421/#")
    township = Watcher(pki.account(TOWN_USER), "vs/v1/#")
    station = tls_station(tmp_path, pki, TEST_02, county_key)
    eavesdropper = Watcher(pki.station_options("410421/xiaoqi/zhuwa/test-04"), f"vs/v1/{TEST_02}/cmd/#")
    intruder_opts = pki.station_options("410421/xiaoqi/zhuwa/test-01")
    # asking for test-02's client id (configured, or the path the broker gives it) must not take over its session
    for borrowed in (station.uplink.client_id, TEST_02):
        assert connects(intruder_opts, client_id=borrowed)
    intruder = publisher(intruder_opts)
    far = publisher(pki.station_options(OTHER_TOWN))
    town_pub = publisher(pki.account(TOWN_USER))
    try:
        for topic in ("event/fire", "status", "reply/forged", "health"):
            intruder.publish(f"vs/v1/{TEST_02}/{topic}", b'{"forged": true}', qos=1).wait_for_publish(5)
        intruder.publish(f"vs/v1/{TEST_02}/cmd/status", b'{"forged": true}', qos=1).wait_for_publish(5)
        town_pub.publish(f"vs/v1/{TEST_02}/cmd/status", b'{"from": "township"}', qos=1).wait_for_publish(5)
        town_pub.publish(f"vs/v1/{TEST_02}/event/fire", b'{"from": "township"}', qos=1).wait_for_publish(5)
        far.publish(f"vs/v1/{OTHER_TOWN}/event/marker", b"{}", qos=1).wait_for_publish(5)
        intruder.publish("vs/v1/410421/xiaoqi/zhuwa/test-01/event/marker", b"{}", qos=1).wait_for_publish(5)
        [reply] = send_and_wait(pki.account(COUNTY_USER), signed(county_key, "status", station=TEST_02), 15)
        assert wait_for(lambda: county.seen("test-01/event/marker") and county.seen(f"{OTHER_TOWN}/event/marker"))
        assert wait_for(lambda: township.seen(f"{TEST_02}/reply/"))
        time.sleep(0.5)
        online_throughout = station.uplink.stats.disconnects == 0
    finally:
        for c in (intruder, far, town_pub):
            c.disconnect()
            c.loop_stop()
        station.stop()
        for w in (county, township, eavesdropper):
            w.close()
    assert reply["ok"] and reply["result"]["online"]  # the genuine command went through the same broker
    assert not county.seen("forged") and not any("forged" in t for t in county.raw)
    assert not any(m.get("kind") == "notice" for m in county.collector.messages)  # no forged command reached the station
    assert not any(t.startswith(f"vs/v1/{TEST_02}/event/fire") for t in county.raw)
    assert eavesdropper.raw == []  # subscribed to test-02's commands, received none
    assert online_throughout  # the intruder's borrowed client id did not take over test-02's session
    assert township.seen(f"{TEST_02}/status") and not township.seen(OTHER_TOWN)  # a township sees only its own


def test_strangers_are_refused(pki: Pki) -> None:
    ca = pki.dir / "ca.crt"
    crt, key = pki.cert(TEST_02)
    assert connects(pki.station_options(TEST_02))
    assert not connects(BrokerOptions("127.0.0.1", pki.station_port, ca_file=ca))  # no client certificate
    rogue = pki.dir / "rogue"
    assert not connects(BrokerOptions("127.0.0.1", pki.station_port, ca_file=ca, cert_file=rogue / "stations" / crt.name,
                                      key_file=rogue / "stations" / key.name))  # signed by another CA
    assert connects(pki.account(COUNTY_USER))
    assert not connects(pki.account(COUNTY_USER, password="wrong"))
    assert not connects(BrokerOptions("127.0.0.1", pki.account_port, ca_file=ca))  # anonymous
    assert not connects(BrokerOptions("127.0.0.1", pki.account_port, username=COUNTY_USER))  # no TLS
    assert not connects(BrokerOptions("127.0.0.1", pki.account_port, ca_file=rogue / "ca.crt",
                                      username=COUNTY_USER, password_file=pki.account(COUNTY_USER).password_file))  # a fake broker's CA


def test_a_station_with_a_password_from_a_file_or_the_environment_never_logs_it(pki: Pki, tmp_path: Path, county_key: Ed25519PrivateKey,
                                                                              caplog: pytest.LogCaptureFixture,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    user = "410421/xiaoqi/zhuwa/test-03"
    secret = pki.passwords[user]
    county = Watcher(pki.account(COUNTY_USER), "vs/v1/410421/#")
    (tmp_path / "pw").write_text(secret + "\n")
    monkeypatch.setenv("VS_TEST_STATION_PW", "not-the-password")
    caplog.set_level(logging.DEBUG)
    runs = []
    for source in ({"password_file": str(tmp_path / "pw")}, {"password_env": "VS_TEST_STATION_PW"}):
        doc = quiet_doc(tmp_path / str(len(runs)), pki.account_port, county_key)
        doc["station"]["id"] = "test-03"
        doc["broker"].update(username=user, tls={"ca_file": str(pki.dir / "ca.crt")}, **source)
        station = Station(config_of(doc))
        station.start()
        try:
            wait_for(lambda: station.uplink.stats.connected or "refused" in station.uplink.stats.last_error, timeout=10)
            runs.append((station.uplink.stats.connected, station.uplink.stats.last_error))
        finally:
            station.stop()
    county.close()
    assert runs[0] == (True, "")
    assert county.collector.status.get(user) is False  # it came online (and said goodbye) under its own prefix
    assert runs[1][0] is False and "refused (not authorized)" in runs[1][1].lower()
    assert secret not in caplog.text and "not-the-password" not in caplog.text
