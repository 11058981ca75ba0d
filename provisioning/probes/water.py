"""Water-level sensors: read each one several times with its real driver and judge the values."""

from __future__ import annotations

import statistics
import time
from typing import Any

from drivers.base import WaterLevelSensor
from foundation.errors import GatewayError
from gateway.config.station import StationConfig, WaterSensorConfig
from gateway.devices import build_water_sensor
from provisioning.probes import Say, quiet
from provisioning.results import CheckResult

UNSTEADY_M = 0.05  # readings of still water spread wider than this point at echoes or a loose mount


def _backoff_s(sensor: WaterLevelSensor, cap_s: float = 2.0) -> float:
    """How long a serial driver refuses reads after a failure (its link back-off), capped."""
    status = getattr(sensor, "status", None)
    return min(cap_s, float(getattr(status, "retry_in_s", 0.0) or 0.0))


def read_levels(
    sensor: WaterLevelSensor, samples: int, interval_s: float, say: Say = quiet, label: str = ""
) -> tuple[list[float], list[str], dict[str, Any]]:
    """Up to `samples` levels, the errors of the reads that failed, and the last raw values."""
    levels: list[float] = []
    errors: list[str] = []
    raw: dict[str, Any] = {}
    for i in range(samples):
        say(f"{label} {i + 1}/{samples}")
        try:
            reading = sensor.read()
            levels.append(reading.level_m)
            raw = dict(reading.raw)
        except (GatewayError, OSError, ValueError) as exc:
            errors.append(str(exc))
        if i + 1 < samples:
            time.sleep(max(interval_s, _backoff_s(sensor)))
    return levels, errors, raw


def judge(cfg: WaterSensorConfig, levels: list[float], errors: list[str], raw: dict[str, Any]) -> CheckResult:
    values: dict[str, Any] = {"levels_m": levels, "errors": errors, "raw": raw, "driver": cfg.driver.type}
    if not levels:
        why_zh, why_en = (errors[0], errors[0]) if errors else ("没有读数", "no reading")
        return CheckResult.of("water", cfg.id, "fail", (f"试了 {len(errors)} 次都没有读数：{why_zh}", f"no reading in {len(errors)} attempt(s): {why_en}"),
                              values, hint=("检查传感器的电源、接线和站点文件里的串口；测试时先停掉网关（systemctl stop station-gateway），"
                                            "免得它占着串口",
                                            "check the sensor's power and wiring and its port in the station file; stop the gateway "
                                            "while testing (systemctl stop station-gateway) so it does not hold the port"))
    median = statistics.median(levels)
    spread = max(levels) - min(levels)
    values.update(median_m=round(median, 4), min_m=min(levels), max_m=max(levels), spread_m=round(spread, 4))
    shown = ", ".join(f"{v:.3f}" for v in levels)
    zh, en = f"{len(levels)} 个读数：{shown} m；中位数 {median:.3f} m", f"{len(levels)} reading(s): {shown} m; median {median:.3f} m"
    rules = cfg.rules
    calibrate = f"stationctl calibrate water {cfg.id} --staff-gauge METRES --config FILE"
    if errors:
        return CheckResult.of("water", cfg.id, "warn", (f"{zh}；{len(errors)} 次读取失败：{errors[-1]}", f"{en}; {len(errors)} read(s) failed: {errors[-1]}"),
                              values, hint=("读数时有时无：检查接头和线长，然后再检查一次",
                                            "intermittent readings: check connectors and cable length, then check again"))
    if spread > UNSTEADY_M and cfg.driver.type != "simulated":
        return CheckResult.of("water", cfg.id, "warn", (f"{zh}；读数相差 {spread:.3f} m", f"{en}; readings spread {spread:.3f} m"), values,
                              hint=("读数跳动：检查传感器波束里有没有东西挡着（芦苇、立杆、墙），安装是否牢固",
                                    "the readings jump: check that nothing (reeds, the pole, a wall) is in the sensor's beam "
                                    "and that the mount is firm"))
    if median < 0:
        return CheckResult.of("water", cfg.id, "warn", (f"{zh}；低于零点", f"{en}; below the datum"), values,
                              hint=(f"对照水尺校准：{calibrate}", f"calibrate against the staff gauge: {calibrate}"))
    if median >= rules.warning_m:
        return CheckResult.of("water", cfg.id, "warn", (f"{zh}；达到或超过预警水位 {rules.warning_m} m", f"{en}; at or above the warning level {rules.warning_m} m"),
                              values, hint=(f"如果实际水位没这么高，就是零点不对：对照水尺校准（{calibrate}）",
                                            f"if the water is not that high, the datum is wrong: calibrate against the staff gauge ({calibrate})"))
    return CheckResult.of("water", cfg.id, "pass", (zh, en), values)


def probe_water(cfg: StationConfig, samples: int, say: Say = quiet) -> list[CheckResult]:
    rows = []
    from drivers.modbus_bus import ModbusBusPool

    pool = ModbusBusPool()
    for sensor_cfg in cfg.water_sensors:
        started = time.monotonic()
        say(sensor_cfg.id)
        try:
            sensor = build_water_sensor(sensor_cfg, modbus_buses=pool)
        except (GatewayError, OSError, ValueError) as exc:
            rows.append(CheckResult.of("water", sensor_cfg.id, "fail", (f"驱动启动失败：{exc}", f"cannot start the driver: {exc}"),
                                       {"driver": sensor_cfg.driver.type},
                                       hint=("检查站点文件里这个传感器的串口和设置", "check the port and settings of this sensor in the station file")))
            continue
        try:
            interval = min(sensor_cfg.poll_interval_s, 0.3)
            levels, errors, raw = read_levels(sensor, samples, interval, say, sensor_cfg.id)
        finally:
            sensor.close()
        row = judge(sensor_cfg, levels, errors, raw)
        row.duration_s = round(time.monotonic() - started, 2)
        rows.append(row)
    return rows
