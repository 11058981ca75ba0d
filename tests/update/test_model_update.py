"""`update` with kind=model on a real camera station: the .tflite is downloaded beside the one in use under a name with
its sha256, loaded once to prove it runs, and switched through the config trial (restart, kept when back online,
answered `updated` as a software update is). A file that is no model is refused; a second update while one downloads
is refused as busy; a software update to a gateway not installed from a bundle is refused with the reason. Real: mosquitto, LiteRT, the shared model and video,
the gateway processes (restarted on exit 75 as systemd would: systemd cannot run here)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from county.feed import FeedCollector
from gateway.commands.config_trial import EXIT_RESTART
from gateway.localbroker import LocalBroker
from gateway.update.download import sha256_file
from tests.commands.conftest import STATION, quiet_doc, signed
from tests.conftest import MEDIA, MODELS, ROOT
from tests.stations import subscribe, wait_for, write_station
from tests.update.serve import Served, serving
from tests.update.test_fleet_update_story import final, publish, replies

DETECT = MODELS / "coco_ssd_mobilenet_v1_quant"


def supervise(config: Path, log: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    """systemd's Restart= for exit 75: the gateway from this checkout started again."""
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config", str(config), "--log-level", "INFO"],
                                cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        procs.append(proc)
        if proc.wait() != EXIT_RESTART:
            return


@contextmanager
def supervised(config: Path, port: int, log: Path) -> Iterator[tuple[FeedCollector, list[subprocess.Popen[bytes]]]]:
    """The camera station under `supervise`, online, with the county's feed; stopped (SIGTERM) at the end."""
    feed, sub = subscribe(port)
    procs: list[subprocess.Popen[bytes]] = []
    runner = threading.Thread(target=supervise, args=(config, log, procs), daemon=True)
    try:
        runner.start()
        assert wait_for(lambda: feed.status.get(STATION) is True, timeout=60), log.read_text()[-3000:]
        yield feed, procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        runner.join(30)
        sub.stop()


def camera_station(tmp_path: Path, port: int, key: Ed25519PrivateKey) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("detect.tflite", "labelmap.txt"):
        shutil.copy2(DETECT / name, models / name)
    doc = quiet_doc(tmp_path, port, key)
    doc["cameras"] = [{"id": "pond-cam", "driver": {"type": "file", "path": str(MEDIA / "people" / "vtest.avi"), "loop": True},
                       "max_fps": 2, "detection": {"model": {"path": str(models / "detect.tflite"), "labels": str(models / "labelmap.txt"),
                                                              "sha256": sha256_file(models / "detect.tflite"), "threads": 1}}}]
    return write_station(tmp_path / "station.yaml", doc)


@pytest.mark.timeout(300)
def test_a_new_detector_model_is_downloaded_checked_and_switched_through_the_config_trial(
        broker: LocalBroker, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    config = camera_station(tmp_path, broker.port, county_key)
    models = tmp_path / "models"
    (tmp_path / "notes.txt").write_text("not a model\n" * 100)
    new_model = DETECT / "detect.tflite"  # the same network as a new release: what matters is the switch
    sha = sha256_file(new_model)
    served = Served(files={"notes.tflite": tmp_path / "notes.txt", "coco-2.tflite": new_model},
                    cut_first_at={"coco-2.tflite": new_model.stat().st_size // 2})
    log = tmp_path / "gateway.log"
    with serving(served), supervised(config, broker.port, log) as (feed, procs):
        software = signed(county_key, "update", {"kind": "software", "version": "9.9.9", "url": served.url("x.tar.gz"),
                                                 "size": 10, "sha256": "0" * 64})
        notes = signed(county_key, "update", {"kind": "model", "version": "notes", "url": served.url("notes.tflite"),
                                              "size": (tmp_path / "notes.txt").stat().st_size, "sha256": sha256_file(tmp_path / "notes.txt")})
        local = signed(county_key, "update", {"kind": "software", "version": "9.9.9", "url": "file:///etc/shadow",
                                              "size": 10, "sha256": "0" * 64})
        for cmd in (local, software, notes):
            publish(broker.port, cmd)
            assert wait_for(lambda: final(feed, cmd["id"]), timeout=30), log.read_text()[-3000:]  # noqa: B023
        bad = final(feed, local["id"]) or {}
        assert (bad.get("outcome"), bad.get("result", {}).get("code")) == ("rejected", "bad_arguments") and "http" in bad["reason"], bad
        assert (final(feed, software["id"]) or {}).get("result") == {"code": "not_installed"}
        refused = final(feed, notes["id"]) or {}
        assert (refused.get("outcome"), refused.get("result")) == ("refused", {"code": "not_a_model"}), refused
        assert sorted(p.name for p in models.iterdir()) == ["detect.tflite", "labelmap.txt"]  # nothing left behind

        model = signed(county_key, "update", {"kind": "model", "version": "coco-2", "url": served.url("coco-2.tflite"),
                                              "size": new_model.stat().st_size, "sha256": sha, "deadline_s": 45})
        publish(broker.port, model)
        assert served.cut_done.wait(30)
        second = signed(county_key, "update", {"kind": "model", "version": "coco-3", "url": served.url("coco-2.tflite"),
                                               "size": new_model.stat().st_size, "sha256": sha})
        publish(broker.port, second)
        assert wait_for(lambda: final(feed, second["id"]), timeout=30)
        busy = final(feed, second["id"]) or {}
        assert (busy.get("outcome"), busy.get("result")) == ("refused", {"code": "busy"}), busy
        served.release.set()
        assert wait_for(lambda: final(feed, model["id"]), timeout=120), log.read_text()[-3000:]
    outcomes = [m["outcome"] for m in replies(feed, model["id"])]
    assert outcomes[0] == "downloading" and outcomes[-2:] == ["restarting", "updated"], outcomes
    assert "within 45 s" in replies(feed, model["id"])[-2]["reason"]  # the county's deadline, not the station's config/set default
    kept = replies(feed, model["id"])[-1]
    assert kept["ok"] and kept["result"] == {"version": "coco-2", "previous": "detect.tflite"}
    switched = yaml.safe_load(config.read_text(encoding="utf-8"))["cameras"][0]["detection"]["model"]
    assert switched == {**switched, "path": str(models / f"coco-2-{sha[:12]}.tflite"), "sha256": sha}
    assert sha256_file(models / f"coco-2-{sha[:12]}.tflite") == sha and (models / "detect.tflite").exists()  # the old one stays
    assert ("coco-2.tflite", new_model.stat().st_size // 2) in served.ranges
    assert [p.returncode for p in procs[:1]] == [EXIT_RESTART]
