"""What can be checked of the offline Pi bundle on x86 in seconds: the committed locks, the sha256
manifest and tarball, the systemd unit it carries, and install.sh's help, dry run and refusals.
The real install on arm64 with no network is `make pi-check` (packaging/pi_check.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from tests.packaging_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load_bundle() -> ModuleType:
    return load_script("bundle")


bundle = load_bundle()


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(req: str) -> str:
    return norm(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0])


# --- the committed locks -------------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["py311", "py313"])
def test_lock_pins_every_runtime_dependency_and_nothing_of_the_county(tag: str) -> None:
    pins = bundle.parse_lock(bundle.lock_path(tag))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert bundle.stale_lock(tag) == [], "run `make lock`: a dependency of pyproject.toml is not in the lock"
    assert {"numpy", "paho-mqtt", "gpiozero"} <= bundle.station_needs(tag)
    county_only = {requirement_name(r) for extra in ("county", "postgres") for r in project["optional-dependencies"][extra]}
    assert county_only & set(pins) == set(), "the station bundle must not carry the county's web or database packages"
    for must in ("ai-edge-litert", "opencv-python-headless", "numpy", "pydantic-core", "cryptography", "pip"):
        assert must in pins


def test_lgpio_is_locked_for_bookworm_and_comes_from_debian_on_trixie() -> None:
    assert "lgpio" in bundle.parse_lock(bundle.lock_path("py311"))  # the Pi 5's GPIO library, a PyPI wheel on 3.11
    assert "lgpio" not in bundle.parse_lock(bundle.lock_path("py313"))  # no cp313 aarch64 wheel on PyPI ...
    assert "python3-lgpio" in (PACKAGING / "install.sh").read_text()  # ... so the installer links Debian's
    assert re.search(r"^lgpio.*platform_machine == \"aarch64\"", (PACKAGING / "extra-requirements.txt").read_text(), re.M)


def test_a_loose_pin_in_a_lock_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "constraints.txt"
    bad.write_text("numpy>=2\n")
    with pytest.raises(bundle.BundleError, match="not an exact pin"):
        bundle.parse_lock(bad)


def test_pip_is_asked_for_every_manylinux_tag_up_to_bookworms_glibc() -> None:
    tags = bundle.pip_platforms()[1::2]
    assert "manylinux2014_aarch64" in tags and "manylinux_2_27_aarch64" in tags and "manylinux_2_36_aarch64" in tags
    assert "manylinux_2_37_aarch64" not in tags  # would admit wheels that cannot load on bookworm


# --- the manifest and the tarball ----------------------------------------------------------------

def fake_bundle(top: Path) -> Path:
    """A bundle folder with the real installer, locks and unit, and stand-in wheels (empty files)."""
    top.mkdir(parents=True)
    shutil.copy2(PACKAGING / "install.sh", top / "install.sh")
    for tag in bundle.PYTHONS:
        shutil.copy2(bundle.lock_path(tag), top / bundle.lock_path(tag).name)
    (top / "wheels").mkdir()
    (top / "wheels" / "pip-26.3-py3-none-any.whl").write_bytes(b"stand-in")
    (top / "systemd").mkdir()
    (top / "systemd" / "station-gateway.service.in").write_text(bundle.render_unit())
    (top / "systemd" / "journald-station-gateway.conf").write_text(bundle.render_journald())
    (top / "VERSION").write_text("0.1.0\n")
    bundle.write_manifest(top)
    return top


def test_manifest_verifies_with_sha256sum_and_catches_tampering(tmp_path: Path) -> None:
    top = fake_bundle(tmp_path / "b")
    assert bundle.verify_manifest(top) == []
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=top).returncode == 0  # what install.sh runs

    (top / "wheels" / "pip-26.3-py3-none-any.whl").write_bytes(b"stand-in, changed")
    (top / "extra.whl").write_bytes(b"smuggled")
    (top / "VERSION").unlink()
    problems = bundle.verify_manifest(top)
    assert "wheels/pip-26.3-py3-none-any.whl: sha256 differs" in problems
    assert "VERSION: missing" in problems
    assert "extra.whl: not in SHA256SUMS" in problems


def test_tarball_is_reproducible_and_unpacks_to_one_folder(tmp_path: Path) -> None:
    top = fake_bundle(tmp_path / "village-station-gateway-0.1.0-raspberrypi-aarch64")
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    bundle.write_tar(top, first)
    os.utime(top / "VERSION", (1, 1))
    bundle.write_tar(top, second)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        names = tar.getnames()
        assert {n.split("/")[0] for n in names} == {top.name}
        assert tar.getmember(f"{top.name}/install.sh").mode & 0o111
        tar.extractall(tmp_path / "out", filter="data")
    assert bundle.verify_manifest(tmp_path / "out" / top.name) == []


# --- the unit it carries -------------------------------------------------------------------------

def test_unit_is_install_services_unit_for_the_venv_under_opt_and_passes_systemd_analyze(tmp_path: Path) -> None:
    text = bundle.render_unit()
    assert "ExecStart=/opt/village-station-gateway/current/bin/station-gateway run --config /etc/station-gateway/station.yaml" in text
    for line in ("Type=notify", "User=station-gateway", "SupplementaryGroups=@HARDWARE_GROUPS@", "Restart=always", "WatchdogSec=30",
                 "WorkingDirectory=/var/lib/station-gateway"):
        assert line in text.splitlines()
    # As install.sh writes it (groups filled in), with ExecStart pointed at an executable of this machine.
    unit = tmp_path / "station-gateway.service"
    unit.write_text(text.replace("@HARDWARE_GROUPS@", "dialout audio video")
                        .replace("/opt/village-station-gateway/current/bin/station-gateway", sys.executable))
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (apt install systemd)"
    verify = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (verify.stdout + verify.stderr).splitlines() if str(unit) in line]
    assert verify.returncode == 0 and complaints == [], verify.stdout + verify.stderr
    assert "Storage=volatile" in bundle.render_journald()


# --- install.sh ----------------------------------------------------------------------------------

def install_sh(top: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(top / "install.sh"), *args], capture_output=True, text=True, timeout=60)


def test_help_is_in_chinese_and_english(tmp_path: Path) -> None:
    done = install_sh(fake_bundle(tmp_path / "b"), "--help")
    assert done.returncode == 0
    for word in ("用法", "usage", "--uninstall", "--no-systemctl", "--dry-run", "离线", "offline"):
        assert word in done.stdout


def test_unknown_option_is_refused_with_the_help(tmp_path: Path) -> None:
    done = install_sh(fake_bundle(tmp_path / "b"), "--frobnicate")
    assert done.returncode == 2 and "unknown option --frobnicate" in done.stderr and "usage" in done.stderr


def test_dry_run_shows_an_offline_install_and_changes_nothing(tmp_path: Path) -> None:
    top = fake_bundle(tmp_path / "b")
    before = Path("/opt/village-station-gateway").exists(), Path("/etc/station-gateway").exists()
    done = install_sh(top, "--dry-run", "--no-systemctl")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "--without-pip /opt/village-station-gateway/0.1.0" in out
    assert "--no-index --find-links" in out and "-c " in out and "village-station-gateway==0.1.0" in out
    assert "current.new" in out and "install -d -m 0750 -o station-gateway" in out
    assert "/etc/systemd/system/station-gateway.service" in out and "50-station-gateway.conf" in out
    assert "stationctl init" in out and "stationctl check" in out and "下一步" in out and "next" in out
    assert "systemctl not called" in out
    assert (Path("/opt/village-station-gateway").exists(), Path("/etc/station-gateway").exists()) == before


def test_a_damaged_bundle_is_refused_before_anything_is_done(tmp_path: Path) -> None:
    top = fake_bundle(tmp_path / "b")
    (top / "wheels" / "pip-26.3-py3-none-any.whl").write_bytes(b"truncated on the USB stick")
    done = install_sh(top, "--dry-run")
    assert done.returncode == 1
    assert "damaged" in done.stderr and "sha256sum -c" in done.stderr
    assert "[dry-run]" not in done.stdout


def test_not_an_unpacked_bundle_says_so(tmp_path: Path) -> None:
    top = fake_bundle(tmp_path / "b")
    (top / "VERSION").unlink()
    done = install_sh(top, "--dry-run")
    assert done.returncode == 1 and "not an unpacked bundle" in done.stderr


def test_uninstall_dry_run_keeps_config_and_data_unless_purged(tmp_path: Path) -> None:
    top = fake_bundle(tmp_path / "b")
    keep = install_sh(top, "--dry-run", "--no-systemctl", "--uninstall")
    assert keep.returncode == 0 and "rm -rf /opt/village-station-gateway" in keep.stdout
    assert "/etc/station-gateway" not in keep.stdout.split("[dry-run] rm -rf /opt")[1].split("\n")[0]
    assert "--purge" in keep.stdout
    purge = install_sh(top, "--dry-run", "--no-systemctl", "--uninstall", "--purge")
    assert purge.returncode == 0 and "rm -rf /etc/station-gateway /var/lib/station-gateway" in purge.stdout


# --- how pi-check judges the minute on arm64 -----------------------------------------------------

def load_pi_check() -> ModuleType:
    return load_script("pi_check")


def test_pi_check_counts_a_seq_lost_only_when_it_neither_arrived_nor_is_queued(tmp_path: Path) -> None:
    import json
    import sqlite3

    pi_check = load_pi_check()
    station = "410421/xiaoqi/zhuwa/bridge-01"

    def line(t: float, seq: int, kind: str) -> str:
        return f"{t} vs/v1/{station}/{kind} " + json.dumps({"station": station, "seq": seq, "kind": kind}) + "\n"

    wire = tmp_path / "wire.txt"
    wire.write_text(line(1.0, 0, "status") + line(1.5, 0, "telemetry") + line(2, 1, "health") + line(3, 3, "alarm") + "garbage\n")
    outbox = tmp_path / "outbox.db"
    with sqlite3.connect(outbox) as db:
        db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO outbox VALUES (4)")
    result = pi_check.wire_result(wire, outbox)
    assert result["lost"] == [2] and result["still_queued"] == 1 and result["last_seq"] == 4
    assert result["first_arrival"] == 1.5  # the station's first message, not the presence

    wire.write_text(line(1, 0, "telemetry") + line(2, 1, "health") + line(3, 2, "alarm"))
    assert pi_check.wire_result(wire, tmp_path / "none.db")["lost_count"] == 0
    wire.write_text(line(2, 5, "health"))  # the first five never arrived
    assert pi_check.wire_result(wire, tmp_path / "none.db")["lost"] == [1, 2, 3, 4]
