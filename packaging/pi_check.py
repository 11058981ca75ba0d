"""`make pi-check`: the offline bundle installed and run on arm64 Debian bookworm, network cut.

Nothing else shows the gateway installs and runs on a Raspberry Pi's architecture, so this
builds an arm64 Debian bookworm root (debootstrap, run through qemu-user-static via binfmt_misc),
cached under var/pi-check/ so a rerun only copies it, and then, in a fresh network and mount
namespace with nothing but loopback (packaging/pi_check_inside.sh):

- installs from the bundle with install.sh --no-systemctl (systemd cannot run in a chroot; the
  unit is still written, and checked here with `systemd-analyze verify`), then again (idempotent);
- runs `station-gateway run` on the simulated station as the service user for a minute against
  the host's mosquitto started inside the namespace (loopback is shared with the chroot), and
  checks every seq arrived or is still queued in the outbox (none lost);
- replays vtest.avi with the real model (`stationctl replay`): a person alarm must be raised,
  and the invoke time under emulation is compared with the same replay natively;
- runs the core unit tests (CORE_TESTS) against the installed package; then uninstalls.

`--suite trixie` does the same on trixie (Python 3.13, the other half of the bundle). Slow (about
ten minutes on two cores), so not part of `make test`. Needs root.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "pi-check"
SHARED = ROOT.parent / "shared"
SUITES = {"bookworm": "3.11", "trixie": "3.13"}  # Raspberry Pi OS's Debian releases and their Python
MIRROR = "http://deb.debian.org/debian"
TEST_REQS = ["pytest>=8", "hypothesis>=6.100", "pytest-timeout>=2.3"]
# Pure rules, alarms, durable files, signing and verification, the LiteRT detector with the real
# model, zones/tracker/motion, GPIO through gpiozero's mock factory, and the station file.
CORE_TESTS = [
    "tests/test_rules.py", "tests/test_alarms.py", "tests/test_atomic_file.py", "tests/test_backoff.py",
    "tests/test_config.py", "tests/commands/test_signing.py", "tests/commands/test_verify.py",
    "tests/commands/test_replay_guard.py", "tests/vision/test_runtime_detector.py",
    "tests/vision/test_zones_tracker_motion.py", "tests/drivers/test_gpio.py",
]
# What a Raspberry Pi 4 shows in /proc/cpuinfo (four Cortex-A72 cores): see pi_check_inside.sh.
PI4_CPU = ("processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n"
           "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n")
PI4_CPUINFO = "".join(PI4_CPU.format(n=n) for n in range(4)) + "Revision\t: c03114\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"
HOST_TOOLS = {"ffmpeg": "ffmpeg", "debootstrap": "debootstrap", "qemu-aarch64-static": "qemu-user-static", "update-binfmts": "binfmt-support",
              "mosquitto": "mosquitto", "mosquitto_sub": "mosquitto-clients", "unshare": "util-linux", "ip": "iproute2"}

app = typer.Typer(add_completion=False)


class CheckError(RuntimeError):
    """pi-check could not prepare or run a step; the message says which."""


def sh(cmd: list[str], what: str, timeout: float | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise CheckError(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")


def ensure_host(console: Console) -> None:
    if os.geteuid() != 0:
        raise CheckError("pi-check needs root (debootstrap, chroot, namespaces): sudo make pi-check")
    missing = sorted({pkg for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None})
    if missing:
        console.print(f"installing Debian packages: {' '.join(missing)}")
        sh(["apt-get", "update", "-qq"], "apt-get update")
        sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], "apt-get install", timeout=900)
    if not Path("/proc/sys/fs/binfmt_misc/status").exists():
        sh(["mount", "binfmt_misc", "-t", "binfmt_misc", "/proc/sys/fs/binfmt_misc"], "mounting binfmt_misc")
    entry = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not entry.exists() or "enabled" not in entry.read_text():
        sh(["update-binfmts", "--enable", "qemu-aarch64"], "enabling qemu-aarch64 in binfmt_misc")


def base_of(suite: str) -> tuple[Path, str]:
    return VAR / f"{suite}-arm64-base", f"debootstrap --arch=arm64 --variant=minbase --include=python3 {suite}"


def ensure_base(console: Console, suite: str) -> Path:
    """The cached arm64 root: built once, rebuilt only when its recipe changes."""
    BASE, recipe = base_of(suite)
    stamp = BASE / ".pi-check-base"
    if stamp.is_file() and stamp.read_text().strip() == recipe:
        return BASE
    tmp = BASE.with_name(BASE.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(BASE, ignore_errors=True)
    VAR.mkdir(parents=True, exist_ok=True)
    with console.status(f"debootstrap arm64 {suite} (a few minutes, once)"):
        sh(["debootstrap", "--arch=arm64", "--variant=minbase", "--include=python3", suite, str(tmp), MIRROR],
           "debootstrap", timeout=3600)
    (tmp / ".pi-check-base").write_text(recipe + "\n")
    tmp.rename(BASE)
    return BASE


def ensure_test_wheels(python: str) -> Path:
    TEST_WHEELS = VAR / f"test-wheels-py{python}"
    stamp = TEST_WHEELS / ".reqs"
    if stamp.is_file() and stamp.read_text() == " ".join(TEST_REQS):
        return TEST_WHEELS
    shutil.rmtree(TEST_WHEELS, ignore_errors=True)
    sys.path.insert(0, str(ROOT / "packaging"))
    from bundle import pip_platforms

    sh([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", *pip_platforms(), "--python-version", python,
        "--implementation", "cp", "-d", str(TEST_WHEELS), *TEST_REQS], "downloading the test wheels")
    stamp.write_text(" ".join(TEST_REQS))
    return TEST_WHEELS


def clip_of(seconds: int) -> Path:
    """vtest.avi, or its first SECONDS (stream copy, the same frames): a frame costs ~2 s under emulation."""
    full = SHARED / "media/people/vtest.avi"
    if seconds <= 0:
        return full
    clip = VAR / f"vtest-first{seconds}s.avi"
    if not clip.is_file():
        sh(["ffmpeg", "-loglevel", "error", "-y", "-i", str(full), "-t", str(seconds), "-c", "copy", str(clip)], "cutting the clip")
    return clip


def stage(run: Path, base: Path, bundle: Path, clip: Path, test_wheels: Path) -> None:
    """A fresh copy of the base with the bundle, the tests (no sources) and the shared media in /srv/pi-check."""
    shutil.rmtree(run, ignore_errors=True)
    sh(["cp", "-a", "--reflink=auto", str(base), str(run)], "copying the base root")
    srv = run / "srv/pi-check"
    with tarfile.open(bundle) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(srv, filter="data")
    (srv / top).rename(srv / "bundle")
    main = srv / "main"
    main.mkdir()
    shutil.copytree(ROOT / "tests", main / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "examples", main / "examples")
    shutil.copy2(ROOT / "pyproject.toml", main / "pyproject.toml")
    shutil.copytree(SHARED / "models", srv / "shared/models")
    shutil.copytree(SHARED / "media", srv / "shared/media")  # the unit tests read the full clip and the stills
    shutil.copy2(clip, srv / "shared/media/people" / clip.name)
    shutil.copytree(test_wheels, srv / "test-wheels")


def wire_result(wire: Path, outbox: Path) -> dict:
    """What arrived: every seq of the station from the first to the last, minus any still queued."""
    seqs, kinds, first = set(), {}, float("inf")
    for line in wire.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            arrived, _topic, payload = line.split(" ", 2)
            doc = json.loads(payload)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("seq"), int) and doc.get("kind") != "status":  # presence is not in the outbox
            seqs.add(doc["seq"])
            first = min(first, float(arrived))
            kinds[doc.get("kind", "?")] = kinds.get(doc.get("kind", "?"), 0) + 1
    queued: set[int] = set()
    if outbox.is_file():
        with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True) as db:
            queued = {row[0] for row in db.execute("SELECT seq FROM outbox")}
    every = seqs | queued
    start = min(min(every, default=0), 1)  # a fresh outbox starts at 0 or 1; a later first seq means the first were lost
    top = max(every, default=0)
    lost = sorted(set(range(start, top + 1)) - every)
    return {"delivered": len(seqs), "first_seq": start, "last_seq": top, "lost": lost[:50], "lost_count": len(lost),
            "still_queued": len(queued), "kinds": kinds, "first_arrival": first if seqs else None}


def replay_summary(jsonl: Path) -> dict:
    for line in reversed(jsonl.read_text(encoding="utf-8").splitlines()):
        if line.startswith('{"summary"'):
            return json.loads(line)["summary"]
    return {}


def native_replay(clip: Path) -> dict:
    """The same replay on this machine, for the invoke time without emulation."""
    out = subprocess.run([str(Path(sys.executable).parent / "stationctl"), "replay", "--config", "examples/pond-station.yaml", str(clip)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith('{"summary"'):
            return json.loads(line)["summary"]
    return {}


@app.command()
def main(
    bundle: Path = typer.Option(None, "--bundle", help="The bundle tarball (default: the one `make bundle` wrote)."),
    run_s: int = typer.Option(60, "--run-seconds", min=10, help="How long station-gateway runs."),
    clip_s: int = typer.Option(10, "--clip-seconds", min=0, help="Replay the first seconds of vtest.avi (0: all 80 s, about half an hour under qemu)."),
    suite: str = typer.Option("bookworm", "--suite", help="Debian release of the root: bookworm (Python 3.11) or trixie (Python 3.13)."),
) -> None:
    """Install the bundle in an arm64 Debian root with no network and run the station there."""
    console = Console()
    if bundle is None:
        sys.path.insert(0, str(ROOT / "packaging"))
        from bundle import bundle_name, project_version

        bundle = ROOT / "dist" / f"{bundle_name(project_version())}.tar.gz"
    if not bundle.is_file():
        raise CheckError(f"{bundle} is missing: run `make bundle` first")
    if suite not in SUITES:
        raise CheckError(f"--suite {suite}: not one of {', '.join(SUITES)}")
    started = time.monotonic()
    ensure_host(console)
    base = ensure_base(console, suite)
    test_wheels = ensure_test_wheels(SUITES[suite])
    run, out = VAR / f"run-{suite}", VAR / f"out-{suite}"
    clip = clip_of(clip_s)
    with console.status("staging a fresh arm64 root"):
        stage(run, base, bundle, clip, test_wheels)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "mosquitto.conf").write_text("listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n")
    shutil.copy2(ROOT / "examples/sim-station.yaml", out / "station.yaml")
    (out / "cpuinfo").write_text(PI4_CPUINFO)
    (out / "verify").mkdir()
    with console.status("installing and running on arm64 under qemu, network cut (about ten minutes)"):
        done = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "bash", str(ROOT / "packaging/pi_check_inside.sh"),
                               str(run), str(out), "1883", str(run_s), " ".join(CORE_TESTS),
                               f"../shared/media/people/{clip.name}"], capture_output=True, text=True, timeout=5400, check=False)
    (out / "inside.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise CheckError(f"the run inside the arm64 root stopped (exit {done.returncode}); see {out}/inside.log: {(done.stderr or done.stdout)[-1500:]}")
    with console.status("the same replay natively"):
        native = native_replay(clip)
    results = collect(run, out, native)
    if results["wire"]["first_arrival"] and "gateway_start" in results["times_s"]:
        results["times_s"]["gateway_first_message"] = round(results["wire"]["first_arrival"] - results["times_s"].pop("gateway_start"), 1)
    results["total_s"] = round(time.monotonic() - started, 1)
    results["suite"] = suite
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    show(console, results)
    raise typer.Exit(0 if all(results["checks"].values()) else 1)


def collect(run: Path, out: Path, native: dict) -> dict:
    times = {k: float(v) for k, v in (line.split() for line in (out / "times.txt").read_text().splitlines())}
    wire = wire_result(out / "wire.txt", run / "var/lib/station-gateway/var/sim-station/outbox.db")
    emu = replay_summary(out / "replay.jsonl")
    pytest_tail = (out / "pytest.log").read_text().strip().splitlines()[-1:] or [""]
    kept = (out / "after-uninstall.txt").read_text().splitlines()
    opt_gone = any("opt/village-station-gateway" in line and "No such file" in line for line in kept)
    data_kept = {d for d in ("etc/station-gateway", "var/lib/station-gateway") for line in kept if line.endswith(d)}
    verify_out = (out / "verify" / "station-gateway.service")
    unit_complaints = [line for line in (out / "unit-verify.txt").read_text().splitlines() if str(verify_out) in line]
    checks = {
        "installed offline": "安装完成 / installed:" in (out / "install.log").read_text(),
        "second install skipped the venv": "already installed" in (out / "install-again.log").read_text(),
        "unit written and verified (systemd-analyze)": (out / "unit-verify.rc").read_text().strip() == "0" and not unit_complaints,
        "gateway ran until stopped (timeout 124)": (out / "gateway.rc").read_text().strip() == "124",
        "every seq arrived or is queued": wire["lost_count"] == 0 and wire["delivered"] >= 10,
        "person alarm raised in replay": (out / "replay.rc").read_text().strip() == "0" and any("person" in k for k in emu.get("alarms", {})),
        "core unit tests pass": (out / "pytest.rc").read_text().strip() == "0",
        "uninstall kept config and data, removed /opt": opt_gone and len(data_kept) == 2,
    }
    return {"times_s": times, "wire": wire, "replay_qemu": emu, "replay_native": native, "pytest": pytest_tail[0], "checks": checks,
            "unit_complaints": unit_complaints}


def show(console: Console, r: dict) -> None:
    table = Table("check", "result", title=f"pi-check (arm64 {r['suite']} under qemu, no network)")
    for name, ok in r["checks"].items():
        table.add_row(name, "[green]ok[/]" if ok else "[red]FAILED[/]")
    console.print(table)
    emu, nat = r["replay_qemu"], r["replay_native"]
    console.print(f"times (s): {r['times_s']}, total {r['total_s']}")
    console.print(f"wire: {r['wire']['delivered']} delivered, last seq {r['wire']['last_seq']}, lost {r['wire']['lost_count']}, queued {r['wire']['still_queued']}")
    console.print(f"replay invoke median: {emu.get('inference_ms_median')} ms under qemu vs {nat.get('inference_ms_median')} ms native; "
                  f"{emu.get('fps')} vs {nat.get('fps')} fps; alarms {emu.get('alarms')}")
    console.print(f"unit tests: {r['pytest']}")


if __name__ == "__main__":
    try:
        app()
    except CheckError as exc:
        Console(stderr=True).print(f"[bold red]pi-check:[/] {exc}")
        sys.exit(2)
