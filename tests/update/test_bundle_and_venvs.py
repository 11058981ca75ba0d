"""What the station checks of a bundle before installing, which old versions it keeps, and how the unit runs the guard."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from gateway.update import guard
from gateway.update.bundle_check import Tampered, WrongBundle, constraints_name, unpack, verify
from gateway.update.venvs import KEEP_OLD, install_root, prune
from tests.update.conftest import load_bundle_tool


def bundle_folder(tmp_path: Path, version: str = "2.0", constraints: str | None = None) -> Path:
    tool = load_bundle_tool()
    top = tmp_path / f"village-station-gateway-{version}"
    (top / "wheels").mkdir(parents=True)
    (top / "wheels" / "pip-26.3-py3-none-any.whl").write_bytes(b"a wheel")
    (top / (constraints or constraints_name())).write_text("pip==26.3\n")
    (top / "VERSION").write_text(version + "\n")
    tool.write_manifest(top)
    return top


def test_a_bundle_is_checked_against_its_manifest_version_and_machine(tmp_path: Path) -> None:
    top = bundle_folder(tmp_path / "ok")
    assert verify(top, "2.0").constraints.name == constraints_name()
    with pytest.raises(WrongBundle, match="holds version 2.0, the command named 2.1"):
        verify(top, "2.1")
    (top / "wheels" / "extra.whl").write_bytes(b"slipped in")
    with pytest.raises(Tampered, match="extra.whl: not in SHA256SUMS"):
        verify(top, "2.0")
    pi_only = bundle_folder(tmp_path / "pi", constraints="constraints-py311-aarch64.txt" if os.uname().machine != "aarch64" else "constraints-py27-sparc.txt")
    with pytest.raises(WrongBundle, match=f"no wheels for this station \\({constraints_name()}\\)"):
        verify(pi_only, "2.0")


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "top/../../evil"])
def test_an_archive_reaching_outside_its_folder_is_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "b.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(Tampered, match="unsafe entry"):
        unpack(archive, tmp_path / "into")
    assert not (tmp_path / "evil").exists() and list((tmp_path / "into").iterdir()) == []


def test_garbage_instead_of_a_bundle_is_refused_as_tampered(tmp_path: Path) -> None:
    (tmp_path / "b.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(Tampered, match="cannot be unpacked"):
        unpack(tmp_path / "b.tar.gz", tmp_path / "into")


def test_old_versions_beyond_two_are_removed_but_never_current_nor_its_predecessor(tmp_path: Path) -> None:
    root = tmp_path / "opt"
    for i, v in enumerate(["1.0", "2.0", "3.0", "4.0", "5.0"]):
        (root / v / "bin").mkdir(parents=True)
        os.utime(root / v, (1000 + i, 1000 + i))
    os.utime(root / "1.0", (10, 10))  # the predecessor is the oldest on disk: kept all the same
    guard.switch_current(root, "5.0")
    assert sorted(prune(root, keep_also="1.0")) == ["2.0", "3.0"]
    assert sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink()) == ["1.0", "4.0", "5.0"]
    assert KEEP_OLD == 2


def test_the_install_root_is_the_folder_holding_current(tmp_path: Path) -> None:
    (tmp_path / "opt" / "1.0").mkdir(parents=True)
    guard.switch_current(tmp_path / "opt", "1.0")
    assert install_root(tmp_path / "opt" / "1.0") == tmp_path / "opt"
    assert install_root(tmp_path / "opt" / "current") == tmp_path / "opt"
    assert install_root(tmp_path / "elsewhere") is None  # e.g. a developer's venv: software updates are refused


def test_the_bundles_unit_runs_the_guard_with_the_system_python_before_every_start() -> None:
    unit = load_bundle_tool().render_unit()
    pre = [line for line in unit.splitlines() if line.startswith("ExecStartPre=")]
    assert pre == ["ExecStartPre=-/usr/bin/python3 /opt/village-station-gateway/update-guard /opt/village-station-gateway"]
    install_sh = (Path(__file__).resolve().parents[2] / "packaging" / "install.sh").read_text()
    assert 'install -m 0755 "$HERE/update-guard" "$OPT/update-guard"' in install_sh
