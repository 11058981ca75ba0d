"""`stationctl cameras discover`: WS-Discovery and ONVIF Media against responders run by the test.

Stand-ins, said plainly: the camera is a WS-Discovery publisher (the WSDiscovery package's own
responder, over real UDP multicast and unicast on this host) plus a small ONVIF SOAP HTTP server
written here that answers GetCapabilities, GetProfiles and GetStreamUri the way Profile S cameras
do and checks the WS-Security digest. No real camera's firmware is exercised.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from gateway.config.vision import CameraConfig
from provisioning.onvif_media import security_header
from tests.provisioning.conftest import stationctl

USER, PASSWORD = "admin", "onvif&pa:ss"
ENV = ('<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" '
       'xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
       'xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><SOAP-ENV:Body>{}</SOAP-ENV:Body></SOAP-ENV:Envelope>')
PROFILE = ('<trt:Profiles token="{token}" fixed="true"><tt:Name>{name}</tt:Name><tt:VideoEncoderConfiguration token="enc{token}">'
           "<tt:Name>enc</tt:Name><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height>"
           "</tt:Resolution><tt:RateControl><tt:FrameRateLimit>{fps}</tt:FrameRateLimit><tt:BitrateLimit>2048</tt:BitrateLimit>"
           "</tt:RateControl></tt:VideoEncoderConfiguration></trt:Profiles>")
PROFILES = {"Profile_1": ("mainStream", 1920, 1080, 25, "/Streaming/Channels/101"),
            "Profile_2": ("subStream", 640, 360, 15, "/Streaming/Channels/102")}


def digest_ok(body: str) -> bool:
    """The WS-Security PasswordDigest a camera checks: base64(sha1(nonce + created + password))."""
    nonce = re.search(r"<wsse:Nonce>([^<]+)</wsse:Nonce>", body)
    created = re.search(r"<wsu:Created>([^<]+)</wsu:Created>", body)
    given = re.search(r'<wsse:Password Type="[^"]*">([^<]+)</wsse:Password>', body)
    if not (nonce and created and given) or f"<wsse:Username>{USER}</wsse:Username>" not in body:
        return False
    expected = hashlib.sha1(base64.b64decode(nonce.group(1)) + created.group(1).encode() + PASSWORD.encode()).digest()
    return base64.b64encode(expected).decode() == given.group(1)


class OnvifCamera(BaseHTTPRequestHandler):
    """Device and Media services of one Profile S camera on one HTTP port."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        host = f"127.0.0.1:{self.server.server_address[1]}"
        self.server.seen.append(body)  # type: ignore[attr-defined]
        if PASSWORD in body:
            answer, code = ENV.format("<SOAP-ENV:Fault>the password travelled in clear</SOAP-ENV:Fault>"), 500
        elif not digest_ok(body):
            answer, code = ENV.format('<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value></SOAP-ENV:Code>'
                                      "<SOAP-ENV:Reason><SOAP-ENV:Text>ter:NotAuthorized</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>"), 400
        elif "GetCapabilities" in body:
            answer, code = ENV.format(f"<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>http://{host}/onvif/Media</tt:XAddr>"
                                      "</tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"), 200
        elif "GetProfiles" in body and self.path == "/onvif/Media":
            answer, code = ENV.format("<trt:GetProfilesResponse>" + "".join(
                PROFILE.format(token=t, name=n, w=w, h=h, fps=f) for t, (n, w, h, f, _) in PROFILES.items()) + "</trt:GetProfilesResponse>"), 200
        elif "GetStreamUri" in body and self.path == "/onvif/Media":
            token = re.search(r"<trt:ProfileToken>([^<]+)</trt:ProfileToken>", body).group(1)  # type: ignore[union-attr]
            uri = f"rtsp://127.0.0.1:554{PROFILES[token][4]}"
            answer, code = ENV.format(f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri><tt:InvalidAfterConnect>false"
                                      "</tt:InvalidAfterConnect></trt:MediaUri></trt:GetStreamUriResponse>"), 200
        else:
            answer, code = ENV.format("<SOAP-ENV:Fault>unknown request</SOAP-ENV:Fault>"), 400
        data = answer.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def onvif_camera() -> Iterator[tuple[str, ThreadingHTTPServer]]:
    """An ONVIF camera: the SOAP server, announced by a WS-Discovery publisher; yields (name, server)."""
    from wsdiscovery import QName, Scope
    from wsdiscovery.publishing import ThreadedWSPublishing

    server = ThreadingHTTPServer(("127.0.0.1", 0), OnvifCamera)
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = f"PondCam-{uuid.uuid4().hex[:6]}"  # tells this test's camera from any other on the network
    class Publisher(ThreadedWSPublishing):  # the same one-family unicast as the tool's client (a WSDiscovery 2.1 slip)
        def sendUnicastMessage(self, env, host, port, initialDelay=0, unicast_num=4):  # noqa: N802, N803
            thread = self._networkingThread_v6 if ":" in host else self._networkingThread_v4
            if thread is not None:
                thread.addUnicastMessage(env, host, port, initialDelay, unicast_num)

    publisher = Publisher()
    publisher.start()
    publisher.publishService(
        types=[QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dn")],
        scopes=[Scope(f"onvif://www.onvif.org/name/{name}"), Scope("onvif://www.onvif.org/hardware/DS-2CD1043")],
        xAddrs=[f"http://127.0.0.1:{server.server_address[1]}/onvif/device_service"],
    )
    yield name, server
    publisher.stop()
    server.shutdown()
    server.server_close()


def ours(doc: list[dict], name: str) -> dict:
    (cam,) = [c for c in doc if c["name"] == name]
    return cam


def test_discover_finds_the_camera_and_its_stream_uris(onvif_camera, tmp_path: Path) -> None:
    name, server = onvif_camera
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    result = stationctl("cameras", "discover", "--user", USER, "--password-file", secret, "--timeout", 2, "--json")
    assert result.exit_code == 0, result.output
    cam = ours(json.loads(result.stdout), name)
    assert cam["hardware"] == "DS-2CD1043" and cam["error"] == ""
    streams = {s["profile"]: (s["uri"], s["width"], s["height"], s["fps"]) for s in cam["streams"]}
    assert streams == {"Profile_1": ("rtsp://127.0.0.1:554/Streaming/Channels/101", 1920, 1080, 25.0),
                       "Profile_2": ("rtsp://127.0.0.1:554/Streaming/Channels/102", 640, 360, 15.0)}
    assert PASSWORD not in result.output and all(PASSWORD not in body for body in server.seen)  # digest only, never in clear
    block = yaml.safe_load(result.output[result.output.index("cameras:"):])
    entries = [CameraConfig.model_validate(e) for e in block["cameras"]]
    mine = next(e for e in entries if name in e.name)
    assert mine.driver.url == "rtsp://admin:PASSWORD@127.0.0.1:554/Streaming/Channels/102"  # the sub-stream, login to fill in


def test_discover_unicast_to_one_address_and_a_refused_login(onvif_camera, tmp_path: Path) -> None:
    name, _ = onvif_camera
    wrong = tmp_path / "pw"
    wrong.write_text("not-it")
    result = stationctl("cameras", "discover", "--address", "127.0.0.1", "--user", USER, "--password-file", wrong,
                        "--timeout", 2, "--json", "--lang", "en")
    assert result.exit_code == 1
    cam = ours(json.loads(result.stdout), name)
    assert cam["streams"] == [] and "refused the login" in cam["error"] and "--password-file" in cam["error"]


def test_nothing_answers_says_what_to_try(tmp_path: Path) -> None:
    from gateway.localbroker import free_port

    result = stationctl("cameras", "discover", "--address", "127.0.0.1", "--wsd-port", free_port(), "--timeout", 1, "--lang", "en")
    assert result.exit_code == 1
    assert "no camera answered" in result.output and "stationctl cameras probe" in result.output


def test_security_header_matches_the_ws_security_formula() -> None:
    # ONVIF Core 5.12 / WS-Security UsernameToken: the worked inputs give this digest
    header = security_header("admin", "secret", nonce=b"\x00" * 16, created="2026-12-03T07:00:00Z")
    expected = base64.b64encode(hashlib.sha1(b"\x00" * 16 + b"2026-12-03T07:00:00Z" + b"secret").digest()).decode()
    assert expected in header and "secret" not in header.replace(expected, "")


def test_a_device_that_answers_nonsense_gets_a_clear_error() -> None:
    from provisioning.errors import ProvisioningError
    from provisioning.onvif_media import stream_uris

    class Nonsense(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Nonsense)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ProvisioningError, match="not a SOAP answer") as err:
            stream_uris(f"http://127.0.0.1:{server.server_address[1]}/onvif/device_service", "admin", "pw", 2)
        assert err.value.hint
    finally:
        server.shutdown()
        server.server_close()
