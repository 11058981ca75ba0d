"""The station file's `sl651` block: reporting water levels to the county's hydrology platform.

Flood-warning platforms (山洪灾害监测预警平台) take gauges over SL 651-2014 (HEX mode), not over
our MQTT contract; this block names the station as that platform knows it and the centres to
report to. Thresholds for added reports (function 33) are the sensor's own `rules`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from gateway.config.base import ConfigModel


class Sl651Centre(ConfigModel):
    """One centre station (中心站) that receives this station's reports."""

    address: int = Field(ge=1, le=255, description="Centre address (中心站地址) as configured on the platform, 1-255.")
    host: str = Field(min_length=1, description="Host name or IP address of the centre's TCP receiver.")
    port: int = Field(ge=1, le=65535, description="TCP port of the centre's receiver.")


class Sl651Config(ConfigModel):
    """SL 651-2014 uplink (HEX mode) to one or more centres, independent of the MQTT broker."""

    station_address: str = Field(pattern=r"^[0-9]{10}$", description="Telemetry station address (遥测站地址): 10 digits, sent as 5 BCD bytes.")
    password: str = Field(pattern=r"^[0-9A-Fa-f]{4}$", description="Frame password (密码): 4 hex digits agreed with the platform.")
    centres: list[Sl651Centre] = Field(min_length=1, description="Centres to report to; each keeps its own queue position.")
    sensor_id: str | None = Field(None, description="Water sensor reported as the river level (element 39); None: the first water sensor.")
    station_type: int = Field(0x48, ge=0, le=255, description="Station classification code (遥测站分类码) in F1F1; 0x48 (H) is a river station.")
    timed_report_s: float = Field(300.0, ge=60, description="Interval of timed reports (function 32), aligned to the wall clock.")
    keepalive_s: float = Field(40.0, gt=0, description="An idle link sends a keep-alive (function 2F) this often.")
    hourly_report: bool = Field(True, description="Send the hourly report (function 34) with the twelve 5-minute levels after each whole hour.")
    utc_offset_h: float = Field(8.0, ge=-12, le=14, description="Time zone of the times in the frames (China Standard Time: 8).")
    queue_path: Path | None = Field(None, description="SQLite file of reports not yet acknowledged; None: sl651.db beside the outbox.")
    max_queued: int = Field(50000, ge=100, description="Bound on stored reports; beyond it the oldest are dropped.")
    ack_timeout_s: float = Field(10.0, gt=0, description="A report the centre has not acknowledged within this is sent again on a new connection.")
    connect_timeout_s: float = Field(10.0, gt=0, description="Seconds to wait for the centre's TCP connection.")
    backoff_initial_s: float = Field(2.0, gt=0, description="First delay before reconnecting to an unreachable centre.")
    backoff_max_s: float = Field(120.0, gt=0, description="Longest delay between reconnection attempts.")
    allow_clock_set: bool = Field(
        False, description="Let a centre's clock command (function 4A) set the station clock (needs a clock hook); otherwise the offset is only recorded and reported."
    )

    @model_validator(mode="after")
    def _backoff_ordered(self) -> "Sl651Config":
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be at least backoff_initial_s")
        return self
