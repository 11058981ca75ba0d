"""Topic arithmetic of the county side: prefixes, subscription filters, parsing a topic.

Stations live at `vs/v1/{county}/{town}/{village}/{station}`; an operator names a county, a
township, a village or one station by a prefix of that path. These helpers turn such a prefix
into exact MQTT filters (so a subscriber asks only for the channels it wants: the ingest takes
the JPEG snapshots, `countyctl watch` does not) and a received topic back into (station,
channel, rest).
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.messages import PROTOCOL

STATION_LEVELS = 4  # county, town, village, station


@dataclass(frozen=True, slots=True)
class TopicParts:
    """A topic split at the station: `410421/xiaoqi/zhuwa/pond-01`, `event`, `water_level`."""

    station: str
    channel: str
    rest: str


def normalise_prefix(prefix: str) -> str:
    """`410421/xiaoqi`, `vs/v1/410421/xiaoqi/` and `vs/v1/410421/xiaoqi/#` all mean the same township."""
    p = prefix.strip().strip("/")
    if p.endswith("/#"):
        p = p[:-2]
    if p == "#" or p == "":
        return PROTOCOL
    if not (p == PROTOCOL or p.startswith(PROTOCOL + "/")):
        p = f"{PROTOCOL}/{p}"
    levels = p.split("/")[2:]
    if len(levels) > STATION_LEVELS:
        raise ValueError(f"prefix {prefix!r} is deeper than a station (county/town/village/station)")
    if any(level in ("", "+", "#") for level in levels):
        raise ValueError(f"prefix {prefix!r} must name levels, not wildcards")
    return p


def station_filter(prefix: str, channel: str) -> str:
    """The filter of one channel (`status`, `event/+`...) for every station under `prefix`."""
    p = normalise_prefix(prefix)
    depth = len(p.split("/")) - 2
    return "/".join([p, *(["+"] * (STATION_LEVELS - depth)), channel])


def parse_topic(topic: str) -> TopicParts | None:
    """Split a station topic; None for anything that is not one."""
    parts = topic.split("/")
    if len(parts) < 7 or "/".join(parts[:2]) != PROTOCOL:
        return None
    return TopicParts("/".join(parts[2:6]), parts[6], "/".join(parts[7:]))


def parse_broker(broker: str, default_port: int = 1883) -> tuple[str, int]:
    """`HOST:PORT` (or `HOST`) to (host, port)."""
    host, sep, port = broker.rpartition(":")
    if not sep:
        return broker, default_port
    return host or "127.0.0.1", int(port)
