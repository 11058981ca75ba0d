"""`countyctl update` end to end: a real mosquitto, the county's own file server, stations that answer.

The stations are `FakeUpdatableStation`s (see its docstring: a stand-in for the station side's
real handler, which its own end-to-end test covers); everything on the county's side is real:
the bundle in `make bundle`'s format, the key, the signed commands, the HTTP server, the
ingest's database and the audit log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from county.accounts import Accounts
from county.cli import app
from county.keys import generate
from county.store import Incoming, Store
from gateway.localbroker import LocalBroker, free_port
from tests.conftest import MODELS
from tests.county.update.bundles import make_bundle
from tests.county.update.fake_station import FakeUpdatableStation
from wire.messages import Status, envelope_fields, to_payload
from wire.signing import load_public_key

PREFIX = "410421/xiaoqi"


def path(i: int) -> str:
    return f"{PREFIX}/zhuwa/st-{i:02d}"


@pytest.fixture
def county(tmp_path: Path) -> dict[str, object]:
    key = tmp_path / "county.key"
    b64, _ = generate(key)
    return {"key": key, "public": load_public_key(b64), "db": f"sqlite:///{tmp_path / 'county.db'}"}


@pytest.fixture
def stations(broker: LocalBroker, county: dict[str, object]) -> Iterator[list[FakeUpdatableStation]]:
    started: list[FakeUpdatableStation] = []
    yield started
    for s in started:
        s.stop()


def start(stations: list[FakeUpdatableStation], broker: LocalBroker, county: dict[str, object], n: int,
          rollback: dict[int, str] | None = None, silent: tuple[int, ...] = ()) -> list[FakeUpdatableStation]:
    for i in range(1, n + 1):
        why = (rollback or {}).get(i)
        outcome = "silent" if i in silent else "rolled_back" if why else "updated"
        stations.append(FakeUpdatableStation(broker.port, path(i), "1.0.0", county["public"], outcome, why or "").start())
    return stations


def run(broker: LocalBroker, county: dict[str, object], bundle: Path, *extra: str, wait: str = "60") -> tuple[int, str]:
    args = ["update", "--bundle", str(bundle), "--stations", PREFIX, "--key", str(county["key"]), "--broker", f"127.0.0.1:{broker.port}",
            "--serve-on", "127.0.0.1:0", "--db", str(county["db"]), "--yes", "--canary-wait", wait, "--timeout", wait, *extra]
    result = CliRunner().invoke(app, args, prog_name="countyctl")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def audit(county: dict[str, object]) -> list[tuple[str, str, str]]:
    store = Store(str(county["db"]))
    try:
        return [(e.target, e.outcome, e.command_id or "") for e in reversed(Accounts(store).audit()) if e.action == "update"]
    finally:
        store.close()


def json_lines(output: str) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return {r["station"]: r for r in rows}


def test_five_stations_canary_two_all_updated(broker: LocalBroker, county: dict[str, object], stations: list[FakeUpdatableStation],
                                              tmp_path: Path) -> None:
    start(stations, broker, county, 5)
    bundle = make_bundle(tmp_path / "dist", "1.1.0")
    code, output = run(broker, county, bundle, "--canary", "2", "--json")
    assert code == 0, output
    outcomes = json_lines(output)
    assert {s: r["state"] for s, r in outcomes.items()} == {path(i): "updated" for i in range(1, 6)}
    assert {s: (r["from"], r["to"]) for s, r in outcomes.items()} == {path(i): ("1.0.0", "1.1.0") for i in range(1, 6)}
    assert [outcomes[path(i)]["phase"] for i in range(1, 6)] == ["canary", "canary", "rest", "rest", "rest"]
    for s in stations:
        assert len(s.commands) == 1 and s.version == "1.1.0" and s.problems == []
        assert s.ranges == [f"bytes=0-{bundle.stat().st_size // 2 - 1}", f"bytes={bundle.stat().st_size // 2}-"]  # resumed download
        assert s.commands[0]["args"]["sha256"] and s.commands[0]["args"]["version"] == "1.1.0"
    canary_done = max(s.commands[0]["issued_at"] for s in stations[:2])
    assert all(s.commands[0]["issued_at"] >= canary_done for s in stations[2:])
    log = audit(county)
    assert sorted((t, o) for t, o, _ in log) == sorted([(path(i), "sent") for i in range(1, 6)] + [(path(i), "updated") for i in range(1, 6)])
    assert {c for _, _, c in log} == {s.commands[0]["id"] for s in stations}


def test_a_model_goes_out_the_same_way(broker: LocalBroker, county: dict[str, object], stations: list[FakeUpdatableStation]) -> None:
    start(stations, broker, county, 2)
    model = MODELS / "coco_ssd_mobilenet_v1_quant" / "detect.tflite"
    code, output = run(broker, county, model, "--kind", "model", "--version", "coco-2026.12", "--canary", "1", "--json")
    assert code == 0, output
    assert {r["state"] for r in json_lines(output).values()} == {"updated"}
    for s in stations:
        args = s.commands[0]["args"]
        assert (args["kind"], args["version"], args["size"]) == ("model", "coco-2026.12", model.stat().st_size)
        assert args["url"].endswith("/detect.tflite") and s.problems == []


def test_the_address_stations_use_can_differ_from_the_one_served_on(broker: LocalBroker, county: dict[str, object],
                                                                    stations: list[FakeUpdatableStation], tmp_path: Path) -> None:
    start(stations, broker, county, 1)
    port = free_port()
    args = ["update", "--bundle", str(make_bundle(tmp_path / "dist", "1.1.0")), "--stations", PREFIX, "--key", str(county["key"]),
            "--broker", f"127.0.0.1:{broker.port}", "--serve-on", f"0.0.0.0:{port}", "--url-base", f"http://localhost:{port}/",
            "--db", str(county["db"]), "--yes"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    url = stations[0].commands[0]["args"]["url"]
    assert url.startswith(f"http://localhost:{port}/") and url.endswith("/village-station-gateway-1.1.0-raspberrypi-aarch64.tar.gz")
    assert len(url.split("/")[3]) >= 24  # the random token: nothing else on this machine is reachable through the server


def test_a_canary_rolling_back_stops_the_rollout_and_says_why(broker: LocalBroker, county: dict[str, object],
                                                              stations: list[FakeUpdatableStation], tmp_path: Path) -> None:
    start(stations, broker, county, 5, rollback={2: "loops did not beat within 300 s"})
    code, output = run(broker, county, make_bundle(tmp_path / "dist", "1.1.0"), "--canary", "2")
    assert code == 1, output
    assert "已回滚" in output and "loops did not beat within 300 s" in output
    assert "试点站 410421/xiaoqi/zhuwa/st-02 已回滚" in output and "其余站点未动" in output
    assert [len(s.commands) for s in stations] == [1, 1, 0, 0, 0]  # the rest untouched
    outcomes = {t: o for t, o, _ in audit(county) if o != "sent"}
    assert outcomes == {path(1): "updated", path(2): "rolled_back", path(3): "not_sent", path(4): "not_sent", path(5): "not_sent"}


def test_in_english_on_request(broker: LocalBroker, county: dict[str, object], stations: list[FakeUpdatableStation], tmp_path: Path) -> None:
    start(stations, broker, county, 3, rollback={1: "gateway did not start"})
    code, output = run(broker, county, make_bundle(tmp_path / "dist", "1.1.0"), "--canary", "1", "--lang", "en")
    assert code == 1
    assert "stopped: canary station 410421/xiaoqi/zhuwa/st-01 rolled back: gateway did not start" in output
    assert "The other stations were not touched" in output


def test_a_canary_that_never_answers_stops_the_rollout_at_its_wait(broker: LocalBroker, county: dict[str, object],
                                                                 stations: list[FakeUpdatableStation], tmp_path: Path) -> None:
    start(stations, broker, county, 3, silent=(1,))
    began = time.monotonic()
    code, output = run(broker, county, make_bundle(tmp_path / "dist", "1.1.0"), "--canary", "1", "--json", wait="3")
    assert code == 3, output
    assert 3 <= time.monotonic() - began < 20
    outcomes = json_lines(output)
    assert outcomes[path(1)]["state"] == "timeout" and outcomes[path(1)]["reason"] == "no final reply within 3 s"
    assert [len(s.commands) for s in stations] == [1, 0, 0]
    assert {outcomes[path(i)]["state"] for i in (2, 3)} == {"not_sent"}


def publish_retained_offline(broker: LocalBroker, station: str) -> None:
    """What a station's Will leaves on the broker when it drops off."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    payload = to_payload(Status(**envelope_fields(station, 3, time.time(), True, "b0"), online=False, version="1.0.0", reason="connection lost"))
    c.publish(f"vs/v1/{station}/status", payload, qos=1, retain=True).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def test_offline_stations_are_reported_skipped(broker: LocalBroker, county: dict[str, object], stations: list[FakeUpdatableStation],
                                              tmp_path: Path) -> None:
    start(stations, broker, county, 2)
    publish_retained_offline(broker, path(7))  # known to the broker only
    store = Store(str(county["db"]))  # known to the ingest's database only
    status = Status(**envelope_fields(path(8), 9, time.time() - 3600, True, "b1"), online=False, version="0.9.0", reason="connection lost")
    store.write([Incoming(f"vs/v1/{path(8)}/status", status, to_payload(status).decode(), time.time())])
    store.close()
    code, output = run(broker, county, make_bundle(tmp_path / "dist", "1.1.0"), "--json")
    assert code == 4, output  # the ones reached are updated, but not every station is
    outcomes = json_lines(output)
    assert {s: r["state"] for s, r in outcomes.items()} == {path(1): "updated", path(2): "updated", path(7): "skipped", path(8): "skipped"}
    assert outcomes[path(8)]["reason"] == "offline"
    assert "跳过离线 2 个" in output
    assert {(t, o) for t, o, _ in audit(county) if o == "not_sent"} == {(path(7), "not_sent"), (path(8), "not_sent")}


def test_a_broken_bundle_is_refused_before_anything_is_sent(broker: LocalBroker, county: dict[str, object],
                                                            stations: list[FakeUpdatableStation], tmp_path: Path) -> None:
    start(stations, broker, county, 2)
    code, output = run(broker, county, make_bundle(tmp_path / "dist", "1.1.0", tamper="content"))
    assert code == 2
    assert "不是完好的更新包" in output and "install.sh: sha256 differs" in output
    time.sleep(0.3)
    assert [len(s.commands) for s in stations] == [0, 0] and audit(county) == []


def test_nothing_known_under_the_prefix_and_no_address(broker: LocalBroker, county: dict[str, object], tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "dist", "1.1.0")
    code, output = run(broker, county, bundle)
    assert code == 2 and "没有已知的站点" in output
    result = CliRunner().invoke(app, ["update", "--bundle", str(bundle), "--stations", PREFIX, "--key", str(county["key"]), "--lang", "en"])
    assert result.exit_code == 2 and "give --serve-on HOST:PORT" in result.output
    result = CliRunner().invoke(app, ["update", "--bundle", str(bundle), "--stations", PREFIX, "--key", str(county["key"]), "--serve-on", "0.0.0.0:8000"])
    assert result.exit_code == 2 and "通配地址" in result.output


def test_without_yes_it_asks_and_a_no_sends_nothing(broker: LocalBroker, county: dict[str, object], stations: list[FakeUpdatableStation],
                                                    tmp_path: Path) -> None:
    start(stations, broker, county, 2)
    args = ["update", "--bundle", str(make_bundle(tmp_path / "dist", "1.1.0")), "--stations", PREFIX, "--key", str(county["key"]),
            "--broker", f"127.0.0.1:{broker.port}", "--serve-on", "127.0.0.1:0", "--db", str(county["db"])]
    result = CliRunner().invoke(app, args, input="n\n")
    assert result.exit_code == 2 and "开始发送更新命令?" in result.output and "已取消，未发送任何命令" in result.output
    time.sleep(0.3)
    assert [len(s.commands) for s in stations] == [0, 0] and audit(county) == []
