"""What an operator can do from the page: acknowledge an alarm, announce on loudspeakers.

Each action becomes one signed command per station (the same document `countyctl send` makes),
registered on the board *before* it is published so that a fast reply is never missed, and
written to the audit log with the operator's login name. The operator's display name goes into
the signed `ack` command, so the station's acked step (and the county's alarm record) says who.
An action outside the operator's scope is refused as if the target did not exist.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from county.accounts import Accounts, Operator, in_scope
from county.send import build_command
from county.web.board import Board, Change
from county.web.hub import BrokerAway, LiveHub
from foundation.errors import GatewayError
from wire.command_args import AckArgs, AnnounceArgs


class ActionRefused(GatewayError, ValueError):
    """The action cannot be done; `status` is the HTTP status, the message is for the operator."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Sent:
    batch: str
    command_ids: list[str]
    not_sent: list[str]  # stations the command could not go to (broker away, station offline: commands are not queued for them)


class Actions:
    """Ack and announce, over the board, the hub, the county key and the audit log."""

    def __init__(self, board: Board, lock: threading.Lock, hub: LiveHub, key: Ed25519PrivateKey, accounts: Accounts,
                 notify: Callable[[list[Change]], None], ttl_s: float = 300.0) -> None:
        self.board, self.lock, self.hub, self.key, self.accounts = board, lock, hub, key, accounts
        self.notify, self.ttl_s = notify, ttl_s

    def ack(self, op: Operator, event_id: str, now: float, station: str = "") -> Sent:
        """Acknowledge alarm `event_id` of `station` (without one: the first alarm seen with that id, see `Board.find_alarm`)."""
        with self.lock:
            alarm = self.board.find_alarm(event_id, op.sees, station)
            found = alarm is not None
            station = alarm.station if alarm else ""
            label = f"{alarm.alarm} @ {alarm.source}" if alarm else ""
            state = alarm.state if alarm else ""
            online = self.board.stations[station].online if station in self.board.stations else None
        if not found:
            raise ActionRefused(404, f"no alarm {event_id[:80]!r} in your area")
        if state == "cleared":
            raise ActionRefused(409, "this alarm has already cleared; nothing to acknowledge")
        if online is False and self.hub.connected.is_set():  # without the broker, presence is stale: the send fails and is logged
            raise ActionRefused(409, "the station is offline: an acknowledgement cannot reach it now (stations take commands only while connected)")
        args = AckArgs(event_id=event_id, operator=op.display_name).model_dump()
        return self._send(op, "ack", [station], args, f"确认 ack {label}", now, {"event_id": event_id})

    def announce(self, op: Operator, target: str, text: str, priority: str, repeat: int, now: float) -> Sent:
        target = target.strip().strip("/")
        if not target or not op.sees(target):
            raise ActionRefused(404, f"{target[:200] or 'that place'} is not in your area")
        try:
            args = AnnounceArgs(text=text.strip(), priority=priority, repeat=repeat).model_dump(exclude_none=True)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'announcement'}: {e['msg']}" for e in exc.errors())
            raise ActionRefused(400, f"the announcement is not valid: {problems}") from None
        with self.lock:
            under = sorted((s, c.online) for s, c in self.board.stations.items() if in_scope(target, s) and op.sees(s))
        if not under:
            raise ActionRefused(404, f"no station known under {target}")
        live = self.hub.connected.is_set()  # without the broker, presence is stale: the sends fail and are logged
        online = [s for s, up in under if up is not False or not live]
        offline = [s for s, up in under if up is False and live]
        if not online:
            raise ActionRefused(409, f"every station under {target} is offline; nothing was sent")
        sent = self._send(op, "announce", online, args, f"广播 announce: {args['text'][:60]}", now, {"target": target})
        return Sent(sent.batch, sent.command_ids, sent.not_sent + offline)

    def _send(self, op: Operator, name: str, stations: list[str], args: dict[str, Any], summary: str, now: float,
              detail: dict[str, Any]) -> Sent:
        batch = uuid.uuid4().hex
        ids, not_sent = [], []
        for station in stations:
            doc = build_command(self.key, station, name, args, now, self.ttl_s)
            with self.lock:
                change = self.board.sent(doc["id"], batch, station, name, summary, op.display_name, now, doc["expires_at"])
            outcome = "sent"
            try:
                self.hub.publish_command(doc)
                ids.append(doc["id"])
            except BrokerAway as exc:
                outcome = "not_sent"
                not_sent.append(station)
                with self.lock:
                    self.board.commands.pop(doc["id"], None)
                detail = {**detail, "error": str(exc)}
            self.accounts.log(op.name, name, station, now, {**detail, "batch": batch, "args": args}, doc["id"], outcome)
            if outcome == "sent":
                self.notify([change])
        if not ids:
            raise ActionRefused(503, f"not sent: the broker is not reachable ({len(not_sent)} station(s)); try again")
        return Sent(batch, ids, not_sent)
