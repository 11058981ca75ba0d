"""`make lock` and `make bundle`: the offline install bundle of a Raspberry Pi station.

A station on a pole often has no internet, and Raspberry Pi OS refuses system-wide pip, so a
station is installed from one tarball: every wheel it needs for aarch64 on Python 3.11
(bookworm) and 3.13 (trixie), the project's own wheel, the exact versions that were tested
(the committed locks `packaging/constraints-py3XX-aarch64.txt`), the installer, the systemd unit
and a sha256 manifest. The locks are resolved for the target (uv resolves markers for aarch64
and the target Python; pip would evaluate them for this machine), preferring the versions the
x86 test suite ran with, so what a Pi installs is what was tested. Nothing the county needs
(the `county` and `postgres` extras) goes in.

Run with the project's venv: `.venv/bin/python packaging/bundle.py lock|build` (the Makefile does).
"""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

import typer
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from rich.console import Console
from rich.table import Table

from foundation.file_hash import sha256_file as sha256_of
from gateway.update.bundle_check import check_manifest as verify_manifest  # the station checks a bundle the same way

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "packaging"
PYTHONS = {"py311": "3.11", "py313": "3.13"}  # Raspberry Pi OS bookworm, trixie
GLIBC_MINOR = 36  # bookworm's glibc 2.36 (trixie has 2.41): a wheel that runs on bookworm runs on both
EXTRA_REQUIREMENTS = HERE / "extra-requirements.txt"
# Pure-Python packages PyPI has only as sdists: built into py3-none-any wheels by `make bundle`, so a
# Pi never builds anything. Anything else without an aarch64 wheel stops the bundle.
PURE_SOURCE = {"wsdiscovery"}
SERVICE_USER = "station-gateway"
GROUP_PLACEHOLDER = "@HARDWARE_GROUPS@"

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Offline bundle of a Raspberry Pi station: lock and build.")


class BundleError(RuntimeError):
    """A step of the bundle could not be done; the message says which and why."""


def lock_path(tag: str) -> Path:
    return HERE / f"constraints-{tag}-aarch64.txt"


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def bundle_name(version: str) -> str:
    return f"village-station-gateway-{version}-raspberrypi-aarch64"


def pip_platforms() -> list[str]:
    """`--platform` arguments for aarch64 wheels up to bookworm's glibc (pip does not widen them itself)."""
    tags = ["manylinux2014_aarch64"] + [f"manylinux_2_{minor}_aarch64" for minor in range(17, GLIBC_MINOR + 1)]
    return [arg for tag in tags for arg in ("--platform", tag)]


def run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BundleError(f"{what} failed ({cmd[0]} exit {done.returncode}):\n{tail}")
    return done.stdout


def tested_versions() -> dict[str, str]:
    """Exact versions installed in the venv this runs in: the ones `make test` ran with."""
    own = "village-station-gateway"
    out = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-").replace(".", "-")
        if name and name != own:
            out[name] = dist.version
    return out


def parse_lock(path: Path) -> dict[str, str]:
    """name -> version of a lock file (comments and blank lines skipped)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            if not version:
                raise BundleError(f"{path}: '{line}' is not an exact pin (name==version)")
            pins[name.strip().lower()] = version.strip()
    return pins


def station_needs(tag: str) -> set[str]:
    """Names of pyproject's dependencies whose markers hold on an aarch64 Pi with this Python."""
    env = {"platform_machine": "aarch64", "python_version": PYTHONS[tag], "python_full_version": f"{PYTHONS[tag]}.0",
           "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
    reqs = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]]
    return {canonicalize_name(r.name) for r in reqs if r.marker is None or r.marker.evaluate(env)}


def stale_lock(tag: str) -> list[str]:
    """Dependencies of pyproject.toml that the lock lacks: `make lock` is due."""
    return sorted(station_needs(tag) - {canonicalize_name(n) for n in parse_lock(lock_path(tag))})


def resolve(tag: str, tested: dict[str, str]) -> str:
    """The lock text for one target Python: uv resolves the station's dependencies for aarch64."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise BundleError("uv is not installed in this venv: .venv/bin/pip install uv")
    with tempfile.TemporaryDirectory() as tmp:
        prefer = Path(tmp) / "tested.txt"
        prefer.write_text("".join(f"{n}=={v}\n" for n, v in sorted(tested.items())), encoding="utf-8")
        cmd = [uv, "pip", "compile", "-q", "--no-header", "--no-annotate", "--no-cache",
               "--python-version", PYTHONS[tag], "--python-platform", f"aarch64-manylinux_2_{GLIBC_MINOR}",
               "--index-url", "https://pypi.org/simple",  # wheels only is enforced when the bundle downloads them
               "--constraint", str(prefer), str(ROOT / "pyproject.toml"), str(EXTRA_REQUIREMENTS)]
        try:
            body = run(cmd, f"resolving with the tested versions for {tag}")
        except BundleError:
            # A tested version has no aarch64 wheel for this Python: resolve freely, and say so below.
            body = run(cmd[: cmd.index("--constraint")] + cmd[cmd.index("--constraint") + 2:], f"resolving for {tag}")
    header = (f"# Exact versions a station installs on Python {PYTHONS[tag]} (aarch64, glibc >= 2.{GLIBC_MINOR}).\n"
              "# Written by `make lock` (packaging/bundle.py lock); the bundle and the installer use it as pip constraints.\n"
              "# Preferred: the versions the test suite ran with; a line marked in `make lock`'s table differs from them.\n")
    return header + body


@app.command()
def lock() -> None:
    """Resolve and write the committed locks for Python 3.11 and 3.13 on aarch64."""
    console = Console()
    tested = tested_versions()
    table = Table("lock", "package", "aarch64", "tested on x86", title="differences from the tested versions")
    for tag in PYTHONS:
        text = resolve(tag, tested)
        lock_path(tag).write_text(text, encoding="utf-8")
        pins = parse_lock(lock_path(tag))
        for name, version in sorted(pins.items()):
            if name in tested and tested[name] != version:
                table.add_row(tag, name, version, tested[name])
        console.print(f"[green]wrote[/] {lock_path(tag).relative_to(ROOT)} ({len(pins)} packages)")
    if table.row_count:
        console.print(table)


def render_unit() -> str:
    """The unit of `stationctl install-service`, for the venv under /opt; the installer fills in the groups."""
    from gateway.config.station import HealthConfig
    from provisioning.service import ServiceOptions, unit_text, watchdog_for

    class _Defaults:  # watchdog_for reads only cfg.health
        health = HealthConfig()

    opts = ServiceOptions(exec_start="/opt/village-station-gateway/current/bin/station-gateway",
                          config=Path("/etc/station-gateway/station.yaml"), watchdog_s=watchdog_for(_Defaults()),  # type: ignore[arg-type]
                          user=SERVICE_USER, groups=(GROUP_PLACEHOLDER,), update_guard="/opt/village-station-gateway/update-guard")
    return unit_text(opts).replace("`stationctl install-service`", "the bundle's install.sh (from `stationctl install-service`'s unit)")


def render_journald() -> str:
    from provisioning.service import journald_text

    return journald_text(persistent=False).replace("`stationctl install-service`", "the bundle's install.sh")


def write_manifest(top: Path) -> Path:
    """SHA256SUMS in `sha256sum -c` form, every file but itself."""
    lines = [f"{sha256_of(p)}  {p.relative_to(top).as_posix()}\n"
             for p in sorted(top.rglob("*")) if p.is_file() and p.name != "SHA256SUMS"]
    out = top / "SHA256SUMS"
    out.write_text("".join(lines), encoding="utf-8")
    return out


def write_tar(top: Path, out: Path) -> None:
    """A reproducible tar.gz: sorted entries, fixed times and owners."""
    stamp = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = stamp
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(top, arcname=top.name, recursive=False, filter=clean)
        for path in sorted(top.rglob("*")):
            tar.add(path, arcname=f"{top.name}/{path.relative_to(top).as_posix()}", recursive=False, filter=clean)
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=stamp) as gz:
        gz.write(buf.getvalue())
    tmp.replace(out)


def download_wheels(tag: str, wheels: Path) -> None:
    pins = parse_lock(lock_path(tag))
    binary = [f"{n}=={v}" for n, v in pins.items() if n not in PURE_SOURCE]
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", *pip_platforms(),
         "--python-version", PYTHONS[tag], "--implementation", "cp", "-d", str(wheels), *binary],
        f"downloading the aarch64 wheels of {lock_path(tag).name}")
    for name in sorted(PURE_SOURCE & pins.keys()):
        with tempfile.TemporaryDirectory() as tmp:
            run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-binary", name, "-w", tmp, f"{name}=={pins[name]}"],
                f"building the pure-Python wheel of {name}")
            for built in Path(tmp).glob("*.whl"):
                if not built.name.endswith("-none-any.whl"):
                    raise BundleError(f"{built.name} is not pure Python: a Pi could not use a wheel built here")
                shutil.copy2(built, wheels / built.name)


def check_offline_install(tag: str, wheels: Path, version: str) -> None:
    """Prove the bundle alone satisfies the station on this Python: pip resolves it with no index."""
    with tempfile.TemporaryDirectory() as tmp:
        run([sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed", "--no-index", "--find-links", str(wheels),
             "--only-binary=:all:", *pip_platforms(), "--python-version", PYTHONS[tag], "--implementation", "cp",
             "--target", tmp, "-c", str(lock_path(tag)), f"village-station-gateway=={version}", "pip"],
            f"installing the bundle for {tag} with no index")


def finish(top: Path, version: str, out_dir: Path) -> Path:
    """The installer, the update guard, the systemd files, VERSION and the manifest; then the tarball and its .sha256."""
    shutil.copy2(HERE / "install.sh", top / "install.sh")
    (top / "install.sh").chmod(0o755)
    shutil.copy2(ROOT / "gateway" / "update" / "guard.py", top / "update-guard")  # stdlib only: run by the system python3
    (top / "systemd").mkdir()
    (top / "systemd" / "station-gateway.service.in").write_text(render_unit(), encoding="utf-8")
    (top / "systemd" / "journald-station-gateway.conf").write_text(render_journald(), encoding="utf-8")
    (top / "VERSION").write_text(version + "\n", encoding="utf-8")
    write_manifest(top)
    out_dir.mkdir(parents=True, exist_ok=True)
    tarball = out_dir / f"{top.name}.tar.gz"
    write_tar(top, tarball)
    (out_dir / f"{tarball.name}.sha256").write_text(f"{sha256_of(tarball)}  {tarball.name}\n", encoding="utf-8")
    return tarball


def host_pins() -> dict[str, str]:
    """The station's dependencies and theirs, at the versions installed in this venv (the tested ones), for this machine."""
    reqs = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]]
    pins: dict[str, str] = {}
    while reqs:
        req = reqs.pop()
        name = canonicalize_name(req.name)
        if name in pins or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        dist = importlib.metadata.distribution(req.name)
        pins[name] = dist.version
        reqs += [Requirement(r) for r in dist.requires or []]
    pins["pip"] = importlib.metadata.version("pip")
    return pins


def _wheel_of(folder: Path, name: str, version: str) -> Path | None:
    stem = f"{canonicalize_name(name).replace('-', '_')}-{version}-"
    return next((p for p in folder.glob("*.whl") if p.name.lower().replace(".", "_").startswith(stem.replace(".", "_"))), None)


def build_host(project_wheel: Path, out_dir: Path, wheel_cache: Path) -> Path:
    """A bundle for THIS machine and Python (the update tests install it): the project wheel given, its
    dependencies at this venv's versions, fetched once into `wheel_cache` (pip's cache makes a refetch cheap)."""
    version = project_wheel.name.split("-")[1]
    tag, machine = f"py{sys.version_info.major}{sys.version_info.minor}", platform.machine()
    pins = host_pins()
    wheel_cache.mkdir(parents=True, exist_ok=True)
    binary = [f"{n}=={v}" for n, v in sorted(pins.items()) if n not in PURE_SOURCE and _wheel_of(wheel_cache, n, v) is None]
    if binary:
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(wheel_cache), *binary],
            "downloading this machine's wheels")
    for name in sorted(PURE_SOURCE & pins.keys()):
        if _wheel_of(wheel_cache, name, pins[name]) is None:
            run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheel_cache), f"{name}=={pins[name]}"], f"building the wheel of {name}")
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp) / f"village-station-gateway-{version}-{machine}-{tag}"
        (top / "wheels").mkdir(parents=True)
        for name, pinned in pins.items():
            found = _wheel_of(wheel_cache, name, pinned)
            if found is None:
                raise BundleError(f"no wheel of {name}=={pinned} in {wheel_cache}")
            shutil.copy2(found, top / "wheels" / found.name)
        shutil.copy2(project_wheel, top / "wheels" / project_wheel.name)
        (top / f"constraints-{tag}-{machine}.txt").write_text(
            f"# Exact versions for Python {sys.version_info.major}.{sys.version_info.minor} on {machine} (this venv's).\n"
            + "".join(f"{n}=={v}\n" for n, v in sorted(pins.items())), encoding="utf-8")
        return finish(top, version, out_dir)


@app.command("build-host")
def build_host_cli(
    project_wheel: Path = typer.Argument(..., help="The project's wheel to bundle."),
    out_dir: Path = typer.Option(ROOT / "dist", "--out", help="Folder for the tarball."),
    wheel_cache: Path = typer.Option(ROOT / "var" / "host-wheels", "--wheel-cache", help="Where this machine's dependency wheels are kept."),
) -> None:
    """A bundle for this machine and Python (tests of the update path), not for a Pi."""
    Console().print(f"[green]wrote[/] {build_host(project_wheel, out_dir, wheel_cache)}")


@app.command()
def build(out_dir: Path = typer.Option(ROOT / "dist", "--out", help="Folder for the tarball.")) -> None:
    """Build dist/village-station-gateway-VERSION-raspberrypi-aarch64.tar.gz from the committed locks."""
    console = Console()
    version = project_version()
    name = bundle_name(version)
    for tag in PYTHONS:
        if not lock_path(tag).is_file():
            raise BundleError(f"{lock_path(tag)} is missing: run `make lock` first")
        if stale := stale_lock(tag):
            raise BundleError(f"{lock_path(tag).name} lacks {', '.join(stale)} (new in pyproject.toml): run `make lock`, test, and commit the locks")
    work = ROOT / "build" / "bundle"
    shutil.rmtree(work, ignore_errors=True)
    top = work / name
    wheels = top / "wheels"
    wheels.mkdir(parents=True)
    with console.status("building the project's wheel"):
        run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)], "building the project's wheel")
    for tag in PYTHONS:
        with console.status(f"downloading aarch64 wheels for Python {PYTHONS[tag]}"):
            download_wheels(tag, wheels)
        with console.status(f"checking an offline install for Python {PYTHONS[tag]}"):
            check_offline_install(tag, wheels, version)
        shutil.copy2(lock_path(tag), top / lock_path(tag).name)
    sdists = [p.name for p in wheels.iterdir() if not p.name.endswith(".whl")]
    if sdists:
        raise BundleError(f"not wheels (a Pi would have to compile them): {sdists}")
    tarball = finish(top, version, out_dir)
    count = sum(1 for _ in wheels.iterdir())
    console.print(f"[green]wrote[/] {tarball.relative_to(ROOT) if tarball.is_relative_to(ROOT) else tarball} "
                  f"({tarball.stat().st_size / 1e6:.1f} MB, {count} wheels, Python {', '.join(PYTHONS.values())})")


@app.command()
def verify(folder: Path = typer.Argument(..., help="An unpacked bundle folder.")) -> None:
    """Check an unpacked bundle against its SHA256SUMS (exit 1 on any difference)."""
    problems = verify_manifest(folder)
    for problem in problems:
        typer.echo(problem, err=True)
    raise typer.Exit(1 if problems else 0)


def main() -> None:
    try:
        app()
    except BundleError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
