"""Find ONVIF cameras on the local network with WS-Discovery (a Probe for NetworkVideoTransmitter).

Why the `WSDiscovery` package: it is the maintained Python implementation of WS-Discovery (the
multicast Probe on 239.255.255.250:3702, ProbeMatch parsing, repeats as the standard asks);
a unicast Probe to one address (`address`) reaches a camera in another subnet, where multicast
does not go.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from provisioning.errors import ProvisioningError

NVT = ("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter")
SCOPE = re.compile(r"^onvif://www\.onvif\.org/(name|hardware|location)/(.+)$")


@dataclass
class FoundCamera:
    """One camera that answered the Probe: its ONVIF service addresses and what its scopes say."""

    xaddrs: list[str]
    epr: str
    name: str = ""
    hardware: str = ""
    location: str = ""
    scopes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def host(self) -> str:
        match = re.match(r"^https?://\[?([^/\]]+?)\]?(:\d+)?/", self.xaddrs[0] + "/") if self.xaddrs else None
        return match.group(1) if match else ""


def _described(xaddrs: list[str], epr: str, scopes: list[str]) -> FoundCamera:
    from urllib.parse import unquote

    cam = FoundCamera(xaddrs=xaddrs, epr=epr, scopes=scopes)
    for scope in scopes:
        match = SCOPE.match(scope)
        if match:
            setattr(cam, match.group(1), unquote(match.group(2)))
    return cam


def _discovery() -> Any:
    """WSDiscovery's threaded client, sending a unicast Probe only on the socket of the address's family.

    WSDiscovery 2.1 queues a unicast message on both its IPv4 and IPv6 threads; the IPv6 thread
    then dies on an IPv4 address with a traceback on the technician's screen.
    """
    from wsdiscovery.discovery import ThreadedWSDiscovery

    class Discovery(ThreadedWSDiscovery):
        def sendUnicastMessage(self, env: Any, host: str, port: int, initialDelay: float = 0, unicast_num: int = 4) -> None:  # noqa: N802, N803
            thread = self._networkingThread_v6 if ":" in host else self._networkingThread_v4
            if thread is not None:
                thread.addUnicastMessage(env, host, port, initialDelay, unicast_num)

    return Discovery()


def discover(timeout_s: float = 3.0, address: str | None = None, port: int = 3702) -> list[FoundCamera]:
    """The ONVIF cameras that answer within `timeout_s` (multicast, or unicast to `address`)."""
    from wsdiscovery import QName

    logging.getLogger("wsdiscovery").setLevel(logging.CRITICAL)  # it logs every foreign datagram it cannot parse
    wsd = _discovery()
    try:
        wsd.start()
        try:
            found = wsd.searchServices(types=[QName(*NVT, "dn")], timeout=timeout_s, address=address, port=port if address else None)
        finally:
            wsd.stop()
    except OSError as exc:
        raise ProvisioningError(f"WS-Discovery cannot use the network: {exc.strerror or exc}",
                                "check that this machine has a network address (ip addr), or ask one camera: "
                                "stationctl cameras probe IP", 1) from None
    cameras = [_described(list(s.getXAddrs() or []), str(s.getEPR()), [str(x.getValue()) for x in s.getScopes()]) for s in found]
    return sorted((c for c in cameras if c.xaddrs), key=lambda c: (c.host, c.epr))
