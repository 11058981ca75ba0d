"""`stationctl calibrate water`: set a gauge's datum from a reading of the staff gauge.

The technician reads the water level on the staff gauge (the painted ruler in the water); the
sensor is read several times and the median taken; the field that shifts the sensor's levels
(the ultrasonic mount height, a Modbus transmitter's offset or mount height) is corrected so
the reported level equals the staff reading, written into the station file (comments kept),
and checked by reading the sensor again with the new setting.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from gateway.config.devices import ModbusWaterLevel, UltrasonicWaterLevel
from gateway.config.station import WaterSensorConfig, parse_config
from gateway.devices import build_water_sensor
from provisioning.errors import ProvisioningError
from provisioning.i18n import LANG_OPTION, language, pick
from provisioning.probes.water import read_levels
from provisioning.station_file import StationFile
from provisioning.ui import handled, make_console, make_progress

BIG_CORRECTION_M = 1.0  # a larger correction is more likely a wrong reading or sensor than a datum error
UNSTEADY_M = 0.05


@dataclass(frozen=True)
class Correction:
    """Which driver field to change, from what to what."""

    field: str
    old: float
    new: float


def correction_for(sensor: WaterSensorConfig, delta_m: float, lang: str = "zh") -> Correction:
    """The field that moves this sensor's levels by `delta_m`; refuses drivers that have none."""
    d = sensor.driver
    if isinstance(d, UltrasonicWaterLevel):
        return Correction("mount_height_m", d.mount_height_m, round(d.mount_height_m + delta_m, 4))
    if isinstance(d, ModbusWaterLevel):
        if d.value_is == "distance":
            assert d.mount_height_m is not None
            return Correction("mount_height_m", d.mount_height_m, round(d.mount_height_m + delta_m, 4))
        return Correction("offset", d.offset, round(d.offset + delta_m, 4))
    raise ProvisioningError(
        pick(lang, (f"传感器 {sensor.id!r} 用的是 {d.type} 驱动，没有可标定的基准（模拟水位计按其 scenario 播放水位）",
                    f"sensor {sensor.id!r} uses the {d.type} driver, which has no datum to calibrate "
                    "(a simulated gauge plays the levels of its scenario)")),
        pick(lang, ("请标定真实的水位计（超声波或 modbus）；模拟水位计请直接改它 scenario 里的水位",
                    "calibrate a real gauge (ultrasonic or modbus); for a simulated one, edit its scenario levels instead")),
        exit_code=2,
    )


def median_level(sensor_cfg: WaterSensorConfig, samples: int, console: Console, lang: str = "zh") -> tuple[float, list[float], list[str]]:
    """The median of up to `samples` readings; ProvisioningError when too few readings came."""
    sensor = build_water_sensor(sensor_cfg)
    try:
        with make_progress(console) as progress:
            reading = pick(lang, ("正在读取", "reading"))
            task = progress.add_task(f"{reading} {sensor_cfg.id}", total=samples)
            done = 0

            def say(text: str) -> None:  # the probe says "<id> i/n"
                nonlocal done
                progress.update(task, description=f"{reading} {text}", completed=done)
                done += 1

            levels, errors, _ = read_levels(sensor, samples, min(sensor_cfg.poll_interval_s, 0.3), say, sensor_cfg.id)
            progress.update(task, completed=samples)
    finally:
        sensor.close()
    if len(levels) < (samples + 1) // 2:
        why = errors[0] if errors else pick(lang, ("没有读数", "no reading"))
        raise ProvisioningError(
            pick(lang, (f"{sensor_cfg.id} 读了 {samples} 次，只成功 {len(levels)} 次：{why}",
                        f"only {len(levels)} of {samples} readings of {sensor_cfg.id} succeeded: {why}")),
            pick(lang, ("先修好传感器（stationctl check --config FILE --only water），再重新标定",
                        "fix the sensor first (stationctl check --config FILE --only water), then calibrate again")),
        )
    return statistics.median(levels), levels, errors


def water(
    sensor: str = typer.Argument(..., help="Id of the water sensor in the station file."),
    staff_gauge: float = typer.Option(..., "--staff-gauge", help="Water level read on the staff gauge now, in metres above the datum."),
    config: Path = typer.Option(..., "--config", "-c", help="Station file (YAML); it is updated in place."),
    samples: int = typer.Option(7, min=3, max=101, help="Sensor readings to take the median of."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the correction without writing it."),
    yes: bool = typer.Option(False, "--yes", help=f"Apply a correction larger than {BIG_CORRECTION_M} m."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Make SENSOR report the staff-gauge reading: correct its datum and write it into the station file."""
    console, lg = make_console(), language(lang)
    with handled(console, config, lg):
        station_file = StationFile(config, lg)
        cfg = parse_config(station_file.dump(), str(config))
        sensor_cfg = next((s for s in cfg.water_sensors if s.id == sensor), None)
        if sensor_cfg is None:
            station_file.item("water_sensors", sensor)  # raises, naming the known ids
            return
        correction_for(sensor_cfg, 0.0, lg)  # refuse drivers without a datum before touching the sensor
        median, levels, errors = median_level(sensor_cfg, samples, console, lg)
        delta = staff_gauge - median
        fix = correction_for(sensor_cfg, delta, lg)
        spread = max(levels) - min(levels)
        failed = pick(lg, (f"  （失败 {len(errors)} 次）", f"  ({len(errors)} failed)")) if errors else ""
        table = Table(title=pick(lg, (f"{sensor} 的标定", f"calibration of {sensor}")), show_header=False)
        table.add_row(pick(lg, ("读数", "readings")), ", ".join(f"{v:.3f}" for v in levels) + failed)
        table.add_row(pick(lg, ("中位数", "median")), f"{median:.3f} m")
        table.add_row(pick(lg, ("水尺读数", "staff gauge")), f"{staff_gauge:.3f} m")
        table.add_row(pick(lg, ("修正量", "correction")), f"{delta:+.3f} m")
        table.add_row(f"driver.{fix.field}", f"{fix.old:g} -> {fix.new:g}")
        console.print(table)
        if spread > UNSTEADY_M:
            console.print(pick(lg, (f"[yellow]注意：[/]几次读数相差 {spread:.3f} m；已取中位数；若水面平静，请检查传感器的波束和安装",
                                    f"[yellow]warning:[/] the readings spread {spread:.3f} m; the median is used, but check the "
                                    "sensor's beam and mount if the water is calm")))
        if abs(delta) > BIG_CORRECTION_M and not yes:
            raise ProvisioningError(
                pick(lg, (f"修正量为 {delta:+.3f} m，超过 {BIG_CORRECTION_M} m", f"the correction is {delta:+.3f} m, more than {BIG_CORRECTION_M} m")),
                pick(lg, ("请核对水尺读数，确认选的是这个传感器；确实无误可加 --yes 照样写入",
                          "check the staff reading and that this is the right sensor; add --yes to apply it anyway")),
                exit_code=2,
            )
        if dry_run:
            console.print(pick(lg, ("[bold]试运行：[/]没有写入任何内容", "[bold]dry run:[/] nothing written")))
            return
        station_file.item("water_sensors", sensor)["driver"][fix.field] = fix.new
        new_cfg = station_file.save()
        new_sensor = next(s for s in new_cfg.water_sensors if s.id == sensor)
        after, _, _ = median_level(new_sensor, 3, console, lg)
    setting = f"{sensor} driver.{fix.field} = {fix.new:g}"
    console.print(pick(lg, (f"[green]已写入[/] {config}：{setting}；现在读数为 {after:.3f} m（水尺 {staff_gauge:.3f} m）",
                            f"[green]wrote[/] {config}: {setting}; it now reads {after:.3f} m (staff gauge {staff_gauge:.3f} m)")))
    if abs(after - staff_gauge) > UNSTEADY_M:
        console.print(pick(lg, ("[yellow]注意：[/]新读数仍有偏差，可能水位在变；请重新标定",
                                "[yellow]warning:[/] the new reading is still off: the water may have moved; calibrate again")))
    console.print(pick(lg, ("[bold]下一步：[/]重启网关后生效（systemctl restart station-gateway）",
                            "[bold]next:[/] restart the gateway to use it (systemctl restart station-gateway)")))


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Calibrate sensors against manual readings.", no_args_is_help=True)
    group.command("water")(water)
    app.add_typer(group, name="calibrate")
