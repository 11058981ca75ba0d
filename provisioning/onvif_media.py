"""Ask an ONVIF camera for its stream URIs: Media GetProfiles, then GetStreamUri per profile.

Why two hand-written SOAP envelopes rather than a SOAP library: the calls are fixed and tiny,
and the maintained ONVIF client (onvif-zeep-async) is asyncio-only and brings zeep, httpx and
the ONVIF WSDL set; onvif-zeep is unmaintained since 2018. The login is a WS-Security
UsernameToken with PasswordDigest (ONVIF Core 5.12), which every Profile S camera accepts; the
password goes into the digest only, never onto the wire or the screen. Answers are parsed with
the standard library's ElementTree (expat refuses entity expansion bombs since 2.4.1).
"""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from foundation.redact import redact
from provisioning.errors import ProvisioningError

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
MAX_ANSWER = 1 << 20  # a profile list is a few KB; a camera that sends more is not read further


@dataclass
class OnvifStream:
    """One media profile of a camera and the RTSP URI it streams at."""

    profile: str
    name: str
    uri: str
    width: int = 0
    height: int = 0
    fps: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def security_header(user: str, password: str, nonce: bytes | None = None, created: str | None = None) -> str:
    """A WS-Security UsernameToken: digest = base64(sha1(nonce + created + password))."""
    nonce = nonce if nonce is not None else os.urandom(16)
    created = created or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    user_xml = escape(user)
    return (
        f'<s:Header><wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{user_xml}</wsse:Username>"
        f'<wsse:Password Type="{DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security></s:Header>"
    )


def envelope(body: str, user: str | None, password: str | None) -> bytes:
    header = security_header(user, password or "") if user else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{NS["s"]}" xmlns:tds="{NS["tds"]}" '
        f'xmlns:trt="{NS["trt"]}" xmlns:tt="{NS["tt"]}">{header}<s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def call(url: str, body: str, user: str | None, password: str | None, timeout_s: float) -> ET.Element:
    """POST one SOAP request; the answer's Body, or ProvisioningError saying why not."""
    request = urllib.request.Request(url, data=envelope(body, user, password), method="POST",
                                     headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    try:
        # no proxy: the camera is on the local network, and a proxy from the environment would not reach it
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout_s) as answer:  # noqa: S310 - an http(s) URL the camera announced
            data = answer.read(MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        data = exc.read(MAX_ANSWER)
        if exc.code in (400, 401, 403, 500) and b"NotAuthorized" in data or exc.code == 401:
            raise ProvisioningError(f"{redact(url)}: the camera refused the login (HTTP {exc.code})",
                                    "check --user and --password-file (the ONVIF user may differ from the web login)", 1) from None
        raise ProvisioningError(f"{redact(url)}: HTTP {exc.code}", "check that ONVIF is switched on in the camera's web page", 1) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProvisioningError(f"{redact(url)}: {reason}", "check the camera's address and that ONVIF is switched on", 1) from None
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ProvisioningError(f"{redact(url)}: not a SOAP answer ({exc})", "check that the address is the camera's ONVIF service", 1) from None
    body_el = root.find("s:Body", NS)
    if body_el is None:
        raise ProvisioningError(f"{redact(url)}: not a SOAP answer", "check that the address is the camera's ONVIF service", 1)
    fault = body_el.find("s:Fault", NS)
    if fault is not None:
        text = " ".join(t.strip() for t in fault.itertext() if t.strip())
        raise ProvisioningError(f"{redact(url)}: SOAP fault: {text[:200]}", "check --user and --password-file, and the camera's ONVIF settings", 1)
    return body_el


def media_address(device_url: str, user: str | None, password: str | None, timeout_s: float) -> str:
    """The Media service's address from GetCapabilities; the device address when none is given."""
    body = call(device_url, "<tds:GetCapabilities><tds:Category>Media</tds:Category></tds:GetCapabilities>", user, password, timeout_s)
    xaddr = body.find(".//tt:Media/tt:XAddr", NS)
    return (xaddr.text or "").strip() if xaddr is not None and xaddr.text else device_url


def _number(el: ET.Element | None, cast: type = int) -> Any:
    try:
        return cast(el.text) if el is not None and el.text else cast(0)
    except ValueError:
        return cast(0)


def stream_uris(device_url: str, user: str | None, password: str | None, timeout_s: float = 5.0) -> list[OnvifStream]:
    """Every media profile of the camera at `device_url` with its RTSP URI, resolution and frame rate."""
    media = media_address(device_url, user, password, timeout_s)
    profiles = call(media, "<trt:GetProfiles/>", user, password, timeout_s).findall(".//trt:Profiles", NS)
    streams: list[OnvifStream] = []
    for p in profiles:
        token = p.get("token", "")
        name_el = p.find("tt:Name", NS)
        enc = p.find("tt:VideoEncoderConfiguration", NS)
        setup = ("<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol>"
                 f"</tt:Transport></trt:StreamSetup><trt:ProfileToken>{escape(token)}</trt:ProfileToken></trt:GetStreamUri>")
        uri_el = call(media, setup, user, password, timeout_s).find(".//trt:MediaUri/tt:Uri", NS)
        if uri_el is None or not uri_el.text:
            continue
        streams.append(OnvifStream(
            token, name_el.text if name_el is not None and name_el.text else token, uri_el.text.strip(),
            _number(enc.find("tt:Resolution/tt:Width", NS)) if enc is not None else 0,
            _number(enc.find("tt:Resolution/tt:Height", NS)) if enc is not None else 0,
            _number(enc.find("tt:RateControl/tt:FrameRateLimit", NS), float) if enc is not None else 0.0,
        ))
    return streams
