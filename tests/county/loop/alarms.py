"""Store an alarm in the county database as the ingest would (a real wire message through the real Store)."""

from __future__ import annotations

from datetime import UTC, datetime

from county.store import Incoming, Store
from wire.messages import Alarm, envelope_fields, to_payload


def store_alarm(url: str, station: str, event_id: str, seq: int, severity: str = "danger", kind: str = "water_level",
                at: float = 1_800_000_000.0, state: str = "raised") -> Alarm:
    alarm = Alarm(**envelope_fields(station, seq, at, True, "boot-1", event_id), alarm=kind, state=state, severity=severity,
                  category="safety", source="gauge-1", summary="水位 2.50 m,超过危险线 2.00 m",
                  raised_at=datetime.fromtimestamp(at, UTC))
    store = Store(url)
    try:
        store.write([Incoming(f"vs/v1/{station}/event/{kind}", alarm, to_payload(alarm).decode(), at)])
    finally:
        store.close()
    return alarm
