"""`countyctl keygen` and `countyctl send`: key files owner-only, exit status from the station's answer, Chinese unless --lang en."""

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


def test_keygen_writes_an_owner_only_key_and_prints_the_station_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    key = tmp_path / "keys" / "county.key"
    result = runner.invoke(app, ["keygen", str(key), "--name", "county-2026"])
    assert result.exit_code == 0, result.output
    assert f"私钥：{key}（权限 600" in result.stderr and "下一步：把下面几行加到每个站点的配置文件并重启网关" in result.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    public = load_public_key(Path(f"{key}.pub").read_text())
    assert key_id(load_signing_key(key).public_key()) == key_id(public)
    assert 'name: "county-2026"' in result.stdout and Path(f"{key}.pub").read_text().strip() in result.stdout
    assert "PRIVATE" not in result.stdout  # the private key is never printed

    again = runner.invoke(app, ["keygen", str(key), "--lang", "en"])
    assert again.exit_code == 1 and "refusing to overwrite" in again.stderr
    again_zh = runner.invoke(app, ["keygen", str(key)])
    assert again_zh.exit_code == 1 and f"生成密钥：{key} 已存在，不会覆盖已有密钥" in again_zh.stderr
    assert key_id(load_signing_key(key).public_key()) == key_id(public)


def test_keygen_speaks_english_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    key = tmp_path / "county.key"
    result = runner.invoke(app, ["keygen", str(key), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert f"private key: {key} (mode 600" in result.stderr and "next: add these lines to each station file" in result.stderr
    assert not any("\u4e00" <= c <= "\u9fff" for c in result.output)  # not a Chinese character
    assert 'public_key: "' in result.stdout  # the snippet is the same in both languages


def test_send_refuses_a_key_others_can_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    key = tmp_path / "county.key"
    assert runner.invoke(app, ["keygen", str(key)]).exit_code == 0
    key.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_signing_key(key)
    result = runner.invoke(app, ["send", STATION, "status", "--key", str(key), "--timeout", "1", "--lang", "en"])
    assert result.exit_code == 1 and "readable by others" in result.stderr
    result = runner.invoke(app, ["send", STATION, "status", "--key", str(key), "--timeout", "1"])
    assert result.exit_code == 1 and f"发送：{key} 其他用户也能读取（权限 644）；请运行：chmod 600 {key}" in result.stderr


def test_send_exit_status_follows_the_reply(broker: LocalBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    trusted, stranger = tmp_path / "trusted.key", tmp_path / "stranger.key"
    runner.invoke(app, ["keygen", str(trusted)])
    runner.invoke(app, ["keygen", str(stranger)])
    station = Station(config_of(quiet_doc(tmp_path, broker.port, load_signing_key(trusted))))
    station.start()
    common = ["--broker", f"127.0.0.1:{broker.port}", "--timeout", "15"]
    try:
        assert wait_for(lambda: station.uplink.stats.connected, timeout=10)
        ok = runner.invoke(app, ["send", STATION, "announce", "--key", str(trusted), "--arg", "text=通知", "--arg", "repeat=1", *common])
        ok_en = runner.invoke(app, ["send", STATION, "announce", "--key", str(trusted), "--arg", "text=通知", "--arg", "repeat=1", "--lang", "en",
                                    *common])
        refused = runner.invoke(app, ["send", STATION, "status", "--key", str(stranger), "--lang", "en", *common])
        refused_zh = runner.invoke(app, ["send", STATION, "status", "--key", str(stranger), *common])
        bad_args = runner.invoke(app, ["send", STATION, "silence", "--key", str(trusted), "--args", '{"duration_s": "long"}', *common])
        silent = runner.invoke(app, ["send", "410421/xiaoqi/zhuwa/nobody", "status", "--key", str(trusted), "--lang", "en",
                                     "--broker", f"127.0.0.1:{broker.port}", "--timeout", "1"])
        silent_zh = runner.invoke(app, ["send", "410421/xiaoqi/zhuwa/nobody", "status", "--key", str(trusted),
                                        "--broker", f"127.0.0.1:{broker.port}", "--timeout", "1"])
    finally:
        station.stop()
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout.strip().splitlines()[-1])["outcome"] == "completed"
    sent_id = json.loads(ok.stdout.strip().splitlines()[-1])["command_id"]
    assert f"已向 {STATION} 发送广播指令（announce，编号 {sent_id}），最多等待 15 秒回复" in ok.stderr
    assert f"{STATION} 回复：已播完" in ok.stderr
    assert ok_en.exit_code == 0 and f"{STATION} replied: completed" in ok_en.stderr and "sent announce " in ok_en.stderr
    assert json.loads(ok_en.stdout.strip().splitlines()[-1])["outcome"] == "completed"  # the same JSON lines in both languages
    assert refused.exit_code == 1 and "unknown_key" in refused.stdout and "rejected" in refused.stderr
    assert "next: the station does not trust this key" in refused.stderr
    assert refused_zh.exit_code == 1 and "unknown_key" in refused_zh.stdout
    assert f"{STATION} 回复：被拒绝" in refused_zh.stderr and "下一步：站点不认这把县级密钥" in refused_zh.stderr
    assert bad_args.exit_code == 1 and "bad_arguments" in bad_args.stdout and "下一步：参数不对" in bad_args.stderr
    assert silent.exit_code == 3 and "no final reply" in silent.stderr
    assert silent_zh.exit_code == 3 and "1 秒内没有收到 410421/xiaoqi/zhuwa/nobody 的最终回复" in silent_zh.stderr


def test_send_reports_an_unreachable_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    key = tmp_path / "county.key"
    runner.invoke(app, ["keygen", str(key)])
    port = free_port()
    result = runner.invoke(app, ["send", STATION, "status", "--key", str(key), "--broker", f"127.0.0.1:{port}", "--timeout", "2", "--lang", "en"])
    assert result.exit_code == 1 and "cannot reach the broker" in result.stderr
    result = runner.invoke(app, ["send", STATION, "status", "--key", str(key), "--broker", f"127.0.0.1:{port}", "--timeout", "2"])
    assert result.exit_code == 1 and f"发送：无法连接消息服务器 127.0.0.1:{port}" in result.stderr


def test_send_says_what_is_wrong_with_its_input_in_the_readers_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    key = tmp_path / "county.key"
    runner.invoke(app, ["keygen", str(key)])
    zh = runner.invoke(app, ["send", "410421/xiaoqi", "status", "--key", str(key)])
    assert zh.exit_code == 2 and "发送：站点 '410421/xiaoqi' 应写成 县/乡镇/村/站点" in zh.stderr
    en = runner.invoke(app, ["send", STATION, "reboot", "--key", str(key), "--lang", "en"])
    assert en.exit_code == 2 and "send: unknown command 'reboot'" in en.stderr
    bad = runner.invoke(app, ["send", STATION, "announce", "--key", str(key), "--arg", "text"])
    assert bad.exit_code == 2 and "--arg 'text' 应写成 KEY=VALUE" in bad.stderr
