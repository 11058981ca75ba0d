"""`stationctl cameras probe`: vendor paths tried against GStreamer's RTSP server playing a camera of one make.

The server is real (RTSP, RTP over TCP, H.264, basic auth); what is a stand-in is the make: a
real Hikvision or Dahua would answer the same paths, but its firmware's quirks (digest-only auth,
session limits, answering every path) are not exercised here.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gateway.config.vision import CameraConfig
from gateway.localbroker import free_port
from tests.provisioning.conftest import stationctl

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_vendor_server.py")
PASSWORD = "s3cr@t:pa/ss"  # characters that must be percent-encoded in a URL


@pytest.fixture
def camera() -> Iterator:
    """Start a fake camera: camera(user, password, *"PATH=WxH@FPS") -> port; killed at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(user: str, password: str, *streams: str) -> int:
        port = free_port()
        proc = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(port), user, password, *streams],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("READY"):
                return port
            if not line and proc.poll() is not None:
                break
        raise RuntimeError("the RTSP server did not start (needs /usr/bin/python3 with gir1.2-gst-rtsp-server-1.0)")

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(10)


def test_probe_finds_a_hikvision_main_and_sub_stream_with_login(camera, tmp_path: Path) -> None:
    port = camera("admin", PASSWORD, "/Streaming/Channels/101=640x360@25", "/Streaming/Channels/102=320x180@15")
    secret = tmp_path / "cam-password"
    secret.write_text(PASSWORD + "\n")
    result = stationctl("cameras", "probe", "127.0.0.1", "--port", port, "--user", "admin", "--password-file", secret,
                        "--timeout", 3, "--id", "pond-cam", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and "s3cr" not in result.output  # the password is never printed
    assert "640x360" in result.output and "320x180" in result.output
    # the snippet pastes into the station file: the sub-stream, validated by the gateway's model
    block = yaml.safe_load(result.output[result.output.index("cameras:"):])
    (entry,) = block["cameras"]
    cam = CameraConfig.model_validate(entry)
    assert cam.id == "pond-cam" and cam.driver.type == "rtsp"
    assert cam.driver.url == f"rtsp://admin:PASSWORD@127.0.0.1:{port}/Streaming/Channels/102"
    assert "/Streaming/Channels/101" in result.output and "replace PASSWORD" in result.output

    as_json = stationctl("cameras", "probe", "127.0.0.1", "--port", port, "--user", "admin", "--password-file", secret,
                         "--timeout", 3, "--json")
    doc = json.loads(as_json.stdout)
    opened = {(a["vendor"], a["stream"]): a for a in doc["attempts"] if a["ok"]}
    assert set(opened) == {("Hikvision", "main"), ("Hikvision", "sub")}
    assert (opened[("Hikvision", "main")]["width"], opened[("Hikvision", "main")]["fps"]) == (640, 25.0)
    assert (opened[("Hikvision", "sub")]["height"], opened[("Hikvision", "sub")]["fps"]) == (180, 15.0)
    dahua = next(a for a in doc["attempts"] if a["vendor"].startswith("Dahua"))
    assert dahua["status"] == 404 and not dahua["ok"]
    assert PASSWORD not in as_json.output


def test_probe_of_other_makes_dahua_uniview_tapo_huawei(camera) -> None:
    port = camera("-", "-", "/cam/realmonitor=704x576@25", "/unicast/c1/s1/live=352x288@10", "/stream2=640x360@15",
                  "/LiveMedia/ch1/Media2=480x270@12")
    result = stationctl("cameras", "probe", "127.0.0.1", "--port", port, "--timeout", 3, "--json")
    assert result.exit_code == 0, result.output
    opened = {(a["vendor"], a["stream"]): (a["width"], a["height"], a["fps"]) for a in json.loads(result.stdout)["attempts"] if a["ok"]}
    assert opened == {
        ("Dahua/Imou", "main"): (704, 576, 25.0), ("Dahua/Imou", "sub"): (704, 576, 25.0),  # one mount serves both subtypes here
        ("Uniview", "sub"): (352, 288, 10.0), ("TP-Link/Tapo", "sub"): (640, 360, 15.0), ("Huawei", "sub"): (480, 270, 12.0),
    }


def test_probe_without_the_login_says_it_needs_one_and_exits_1(camera) -> None:
    port = camera("admin", PASSWORD, "/Streaming/Channels/102=320x180@15")
    result = stationctl("cameras", "probe", "127.0.0.1", "--port", port, "--timeout", 3, "--lang", "en")
    assert result.exit_code == 1
    assert "the camera needs a login (401)" in result.output and "no path opened" in result.output and "next:" in result.output
    zh = stationctl("cameras", "probe", "127.0.0.1", "--port", port, "--timeout", 3, "--lang", "zh")
    assert "摄像头需要登录（401）" in zh.output and "下一步" in zh.output


def test_a_dead_address_fails_fast_with_a_next_step() -> None:
    closed = free_port()
    started = time.monotonic()
    result = stationctl("cameras", "probe", "127.0.0.1", "--port", closed, "--timeout", 1, "--lang", "en")
    assert result.exit_code == 1
    assert "cannot reach the camera" in result.output and "--port" in result.output
    # an address nobody answers (TEST-NET-1): one bounded connect, not one per path
    started = time.monotonic()
    silent = stationctl("cameras", "probe", "192.0.2.1", "--timeout", 1, "--lang", "en")
    assert silent.exit_code == 1 and "cannot reach the camera" in silent.output
    assert time.monotonic() - started < 5


def test_a_port_that_never_answers_rtsp_fails_in_seconds() -> None:
    import socket

    with socket.socket() as silent:  # accepts the connection (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        result = stationctl("cameras", "probe", "127.0.0.1", "--port", silent.getsockname()[1], "--timeout", 1, "--lang", "en")
        elapsed = time.monotonic() - started
    assert result.exit_code == 1 and "no RTSP answer" in result.output
    assert elapsed < 5, f"{elapsed:.1f} s: a silent port must not cost every vendor path its timeout"


def test_a_missing_password_file_is_a_clear_error(tmp_path: Path) -> None:
    result = stationctl("cameras", "probe", "127.0.0.1", "--user", "admin", "--password-file", tmp_path / "nope", "--lang", "en")
    assert result.exit_code == 2 and "cannot read the password file" in result.output and "next:" in result.output
