"""Which stations lie under a prefix, whether they are online and what version they run.

Two sources, both the county's own: the ingest's database (`stations`, from every station's
birth and Will) and the broker's retained status of each station, read live for a moment. The
broker's word wins where both know a station (it is the current presence; the database may lag
when the ingest is down); a station known to either is listed, so none is silently left out.
"""

from __future__ import annotations

import json
import queue
import ssl
import time

from county.send import BrokerOptions, SendError, make_client
from county.store import Store
from county.topics import normalise_prefix, station_filter
from county.update.plan import Target
from wire.messages import PROTOCOL


def station_prefix(prefix: str) -> str:
    """`vs/v1/410421/xiaoqi` or `410421/xiaoqi` -> `410421/xiaoqi` ('' for the whole network)."""
    p = normalise_prefix(prefix)
    return p[len(PROTOCOL) + 1:] if p != PROTOCOL else ""


def under(prefix: str, station: str) -> bool:
    return not prefix or station == prefix or station.startswith(prefix + "/")


def stored_targets(store: Store, prefix: str) -> dict[str, Target]:
    """Stations under `prefix` in the ingest's database."""
    p = station_prefix(prefix)
    rows = store.query("SELECT station, online, version FROM stations")
    return {str(s): Target(str(s), bool(online), str(version or "")) for s, online, version in rows if under(p, str(s))}


def live_targets(opts: BrokerOptions, prefix: str, quiet_s: float = 0.5, max_s: float = 5.0) -> dict[str, Target]:
    """Stations under `prefix` by their retained status on the broker (read until `quiet_s` passes with nothing new)."""
    got: queue.Queue[tuple[str, bytes] | int] = queue.Queue()
    client = make_client(opts)

    def on_connect(client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            got.put(-1)
        else:
            client.subscribe(station_filter(prefix, "status"), qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:  # noqa: ANN001
        got.put(0 if all(not rc.is_failure for rc in reason_codes) else -2)

    def on_message(client, userdata, message) -> None:  # noqa: ANN001
        got.put((message.topic, message.payload))

    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    try:
        client.connect(opts.host, opts.port, keepalive=30)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise SendError(f"cannot reach the broker {opts.host}:{opts.port}: {exc}") from None
    client.loop_start()
    found: dict[str, Target] = {}
    p = station_prefix(prefix)
    try:
        end = time.monotonic() + max_s
        subscribed = False
        while time.monotonic() < end:
            try:
                item = got.get(timeout=quiet_s if subscribed else max(0.0, end - time.monotonic()))
            except queue.Empty:
                if subscribed:
                    break
                continue
            if item == -1:
                raise SendError("the broker refused the connection (check the credentials)")
            if item == -2:
                raise SendError(f"the broker refused the subscription to {station_filter(prefix, 'status')} (check the ACL)")
            if item == 0:
                subscribed = True
                continue
            assert isinstance(item, tuple)
            station = "/".join(item[0].split("/")[2:6])
            try:
                doc = json.loads(item[1])
                target = Target(station, bool(doc["online"]), str(doc.get("version") or ""))
            except (ValueError, KeyError, TypeError):
                continue  # not a status; the ingest keeps such payloads as rejects
            if under(p, station):
                found[station] = target
        if not subscribed:
            raise SendError(f"no answer from the broker {opts.host}:{opts.port}")
    finally:
        client.disconnect()
        client.loop_stop()
    return found


def known_targets(stored: dict[str, Target], live: dict[str, Target]) -> list[Target]:
    """Every station either source knows; the live presence and version win."""
    merged = {**stored, **live}
    return [merged[s] for s in sorted(merged)]
