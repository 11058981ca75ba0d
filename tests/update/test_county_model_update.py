"""`countyctl update --kind model` against a real camera station: the county's tool (its own process, its file server,
the station found by its retained status) sends a new detector model, the station switches through the config trial
and the county exits 0 with `updated`; sent again, the station has that model already (config/set answers
`unchanged`) and the county counts it updated too, not failed. Real: mosquitto, LiteRT, the shared model and video,
the gateway processes (restarted on exit 75 as systemd would: systemd cannot run here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.commands.config_trial import EXIT_RESTART
from gateway.localbroker import LocalBroker
from gateway.update.download import sha256_file
from tests.commands.conftest import STATION
from tests.update.test_fleet_update_story import county_audit, county_key_file, countyctl_update, final, replies
from tests.update.test_model_update import DETECT, camera_station, supervised


@pytest.mark.timeout(300)
def test_countyctl_sends_a_model_and_a_model_already_in_use_counts_as_updated(
        broker: LocalBroker, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    config = camera_station(tmp_path, broker.port, county_key)
    models = tmp_path / "models"
    new_model = DETECT / "detect.tflite"  # the same network as a new release: what matters is the switch
    sha = sha256_file(new_model)
    key_file = county_key_file(county_key, tmp_path / "county.key")
    db = f"sqlite:///{tmp_path / 'county.db'}"
    model = ["--bundle", str(new_model), "--kind", "model", "--version", "coco-2"]
    log = tmp_path / "gateway.log"
    with supervised(config, broker.port, log) as (feed, procs):
        code, lines, said = countyctl_update(model, key_file, broker.port, db)
        assert code == 0 and set(lines) == {STATION} and lines[STATION]["state"] == "updated", f"{said}\n{log.read_text()[-3000:]}"
        first = str(lines[STATION]["command_id"])
        assert [m["outcome"] for m in replies(feed, first)][-2:] == ["restarting", "updated"]
        assert (final(feed, first) or {}).get("result") == {"version": "coco-2", "previous": "detect.tflite"}

        code, lines, said = countyctl_update(model, key_file, broker.port, db)
        assert code == 0 and lines[STATION]["state"] == "updated" and lines[STATION]["reason"] == "", said
        again = str(lines[STATION]["command_id"])
        assert (final(feed, again) or {}).get("outcome") == "unchanged"  # config/set's answer: nothing to switch
        assert [(outcome, cid) for _, outcome, cid in county_audit(db)] == [("sent", first), ("updated", first), ("sent", again), ("updated", again)]
    switched = yaml.safe_load(config.read_text(encoding="utf-8"))["cameras"][0]["detection"]["model"]
    assert switched == {**switched, "path": str(models / f"coco-2-{sha[:12]}.tflite"), "sha256": sha}
    assert [p.returncode for p in procs[:1]] == [EXIT_RESTART] and len(procs) == 2  # one restart: the first update only
