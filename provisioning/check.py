"""`stationctl check`: the hardware self-test of a station, run on site by the technician.

It first reads the file for promises it cannot keep (`audit`: an announced alarm nothing can
raise, a camera without a model, a relay or action that refers to nothing), then builds the real
drivers from the station file and exercises each device: serial ports,
water sensors (several readings), fire inputs, cameras (frame rate and a snapshot), the
loudspeaker (a test phrase) and the broker (a timed round trip). Exit status 1 when anything
failed, so scripts and the commissioning report can rely on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer

from gateway.config.station import StationConfig, load_config
from provisioning.audit import audit
from provisioning.errors import ProvisioningError
from provisioning.i18n import label, language, pick
from provisioning.probes import Say
from provisioning.probes.broker import probe_broker
from provisioning.probes.camera import probe_cameras
from provisioning.probes.fire import probe_fire
from provisioning.probes.serial_ports import probe_serial
from provisioning.probes.speaker import TEST_PHRASE, probe_speaker
from provisioning.probes.water import probe_water
from provisioning.results import CHECK_NAMES, CheckResult, overall_ok, render_table, to_json
from provisioning.ui import handled, make_console, make_progress

STEPS = ("config", "serial", "water", "fire", "camera", "speaker", "broker")


@dataclass
class CheckOptions:
    """What to check and how thoroughly."""

    samples: int = 5
    frames: int = 10
    snapshot_dir: Path = Path("check-snapshots")
    phrase: str = TEST_PHRASE
    sound: bool = True
    only: set[str] = field(default_factory=lambda: set(STEPS))


def plan(cfg: StationConfig, opts: CheckOptions) -> list[tuple[str, Callable[[Say], list[CheckResult]]]]:
    """The steps to run, in the order a technician walks the station."""
    steps: list[tuple[str, Callable[[Say], list[CheckResult]]]] = [
        ("config", lambda say: audit(cfg)),
        ("serial", lambda say: probe_serial(cfg)),
        ("water", lambda say: probe_water(cfg, opts.samples, say)),
        ("fire", lambda say: probe_fire(cfg, opts.samples, say)),
        ("camera", lambda say: probe_cameras(cfg, opts.frames, opts.snapshot_dir, say)),
        ("speaker", lambda say: probe_speaker(cfg, opts.phrase, say) if opts.sound else skipped_speaker(cfg)),
        ("broker", lambda say: probe_broker(cfg, say=say)),
    ]
    return [(name, run) for name, run in steps if name in opts.only]


def skipped_speaker(cfg: StationConfig) -> list[CheckResult]:
    if cfg.loudspeaker is None:
        return []
    return [CheckResult.of("speaker", "loudspeaker", "skip", ("没有播放（--no-sound）", "not played (--no-sound)"),
                           hint=("先提醒附近的人，再不带 --no-sound 运行检查", "run the check without --no-sound when people nearby can be warned first"))]


def run_checks(cfg: StationConfig, opts: CheckOptions, progress_console: Any, lang: str = "zh") -> list[CheckResult]:
    """Run every planned step under a progress bar (the step's name in `lang`, then what the probe is at: ids and counts);
    a step that crashes becomes a failed row."""
    results: list[CheckResult] = []
    steps = plan(cfg, opts)
    with make_progress(progress_console) as progress:
        task = progress.add_task(pick(lang, ("自检", "self-test")), total=len(steps))
        for name, run in steps:
            shown = label(CHECK_NAMES, name, lang)
            progress.update(task, description=shown)
            try:
                results.extend(run(lambda text, shown=shown: progress.update(task, description=f"{shown}: {text}")))
            except Exception as exc:  # noqa: BLE001 - one broken probe must not hide the others' results
                crash = f"{type(exc).__name__}: {exc}"
                results.append(CheckResult.of(name, "-", "fail", (f"{name} 检查程序出错：{crash}", f"the {name} check crashed: {crash}"),
                                              hint=("把上面的输出发给网关开发人员", "report this to the gateway developers with the output above")))
            progress.advance(task)
    return results


def meta(cfg: StationConfig, config: Path) -> dict[str, Any]:
    return {
        "station": cfg.station.path,
        "station_name": cfg.station.name,
        "config": str(config),
        "config_hash": cfg.fingerprint(),
        "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def check(
    config: Path = typer.Option(..., "--config", "-c", help="Station file (YAML)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
    samples: int = typer.Option(5, min=1, max=50, help="Readings per water sensor and fire input."),
    frames: int = typer.Option(10, min=2, max=300, help="Frames grabbed per camera to measure its rate."),
    snapshot_dir: Path = typer.Option(Path("check-snapshots"), help="Folder for the camera snapshots."),
    phrase: str = typer.Option(TEST_PHRASE, help="What the loudspeaker says."),
    sound: bool = typer.Option(True, "--sound/--no-sound", help="Play the test phrase on the loudspeaker."),
    only: list[str] = typer.Option([], "--only", help=f"Run only these checks ({', '.join(STEPS)}); repeatable."),
    lang: str | None = typer.Option(None, "--lang", help="Language of the table: zh (default) or en; default from LANG."),
) -> None:
    """Self-test the station's hardware and link; exit 1 when anything fails."""
    console, lg = make_console(stderr=as_json), language(lang)
    with handled(console, config, lg):
        cfg = load_config(config)
        unknown, steps = ", ".join(sorted(set(only) - set(STEPS))), ", ".join(STEPS)
        if unknown:
            raise ProvisioningError(pick(lg, (f"没有这项检查：{unknown}", f"unknown check(s) {unknown}")),
                                    pick(lg, (f"从这些里选：{steps}", f"choose from {steps}")), 2)
        opts = CheckOptions(samples, frames, snapshot_dir, phrase, sound, set(only) or set(STEPS))
        started = time.monotonic()
        results = run_checks(cfg, opts, console, lg)
        info = {**meta(cfg, config), "duration_s": round(time.monotonic() - started, 1)}
    if as_json:
        typer.echo(to_json(results, info))
    else:
        render_table(console, results, pick(lg, (f"{cfg.station.path} 自检", f"self-test of {cfg.station.path}")), lg)
    if not overall_ok(results):
        if not as_json:
            console.print(pick(lg, ("[bold]下一步：[/]按各行的“下一步”修好失败的项，然后再检查一次",
                                    "[bold]next:[/] fix the failed rows (see 'next:' in each), then run the check again")))
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
