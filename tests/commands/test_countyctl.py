"""`countyctl keygen` and `countyctl send`: key files owner-only, exit status from the station's answer."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from county.cli import app
from county.keys import KeyFileError, load_signing_key
from gateway.localbroker import LocalBroker, free_port
from gateway.station import Station
from tests.commands.conftest import STATION, quiet_doc
from tests.stations import config_of, wait_for
from wire.signing import key_id, load_public_key

runner = CliRunner()


def test_keygen_writes_an_owner_only_key_and_prints_the_station_snippet(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "county.key"
    result = runner.invoke(app, ["keygen", str(key), "--name", "county-2026"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    public = load_public_key(Path(f"{key}.pub").read_text())
    assert key_id(load_signing_key(key).public_key()) == key_id(public)
    assert 'name: "county-2026"' in result.stdout and Path(f"{key}.pub").read_text().strip() in result.stdout
    assert "PRIVATE" not in result.stdout  # the private key is never printed

    again = runner.invoke(app, ["keygen", str(key)])
    assert again.exit_code == 1 and "refusing to overwrite" in again.stderr
    assert key_id(load_signing_key(key).public_key()) == key_id(public)


def test_send_refuses_a_key_others_can_read(tmp_path: Path) -> None:
    key = tmp_path / "county.key"
    assert runner.invoke(app, ["keygen", str(key)]).exit_code == 0
    key.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_signing_key(key)
    result = runner.invoke(app, ["send", STATION, "status", "--key", str(key), "--timeout", "1"])
    assert result.exit_code == 1 and "readable by others" in result.stderr


def test_send_exit_status_follows_the_reply(broker: LocalBroker, tmp_path: Path) -> None:
    trusted, stranger = tmp_path / "trusted.key", tmp_path / "stranger.key"
    runner.invoke(app, ["keygen", str(trusted)])
    runner.invoke(app, ["keygen", str(stranger)])
    station = Station(config_of(quiet_doc(tmp_path, broker.port, load_signing_key(trusted))))
    station.start()
    common = ["--broker", f"127.0.0.1:{broker.port}", "--timeout", "15"]
    try:
        assert wait_for(lambda: station.uplink.stats.connected, timeout=10)
        ok = runner.invoke(app, ["send", STATION, "announce", "--key", str(trusted), "--arg", "text=通知", "--arg", "repeat=1", *common])
        refused = runner.invoke(app, ["send", STATION, "status", "--key", str(stranger), *common])
        bad_args = runner.invoke(app, ["send", STATION, "silence", "--key", str(trusted), "--args", '{"duration_s": "long"}', *common])
        silent = runner.invoke(app, ["send", "410421/xiaoqi/zhuwa/nobody", "status", "--key", str(trusted),
                                     "--broker", f"127.0.0.1:{broker.port}", "--timeout", "1"])
    finally:
        station.stop()
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout.strip().splitlines()[-1])["outcome"] == "completed"
    assert refused.exit_code == 1 and "unknown_key" in refused.stdout and "rejected" in refused.stderr
    assert bad_args.exit_code == 1 and "bad_arguments" in bad_args.stdout
    assert silent.exit_code == 3 and "no final reply" in silent.stderr


def test_send_reports_an_unreachable_broker(tmp_path: Path) -> None:
    key = tmp_path / "county.key"
    runner.invoke(app, ["keygen", str(key)])
    result = runner.invoke(app, ["send", STATION, "status", "--key", str(key), "--broker", f"127.0.0.1:{free_port()}", "--timeout", "2"])
    assert result.exit_code == 1 and "cannot reach the broker" in result.stderr
