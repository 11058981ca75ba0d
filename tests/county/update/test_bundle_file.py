"""What `countyctl update` offers is read and checked first: a broken bundle never reaches a station."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from county.i18n import Refused
from county.update.bundle_file import read_bundle, read_model
from tests.conftest import MODELS
from tests.county.update.bundles import make_bundle


def test_a_sound_bundle_gives_its_own_version_size_and_sha256(tmp_path: Path) -> None:
    tarball = make_bundle(tmp_path, "1.4.0")
    f = read_bundle(tarball)
    assert (f.kind, f.version, f.size) == ("software", "1.4.0", tarball.stat().st_size)
    assert f.sha256 == hashlib.sha256(tarball.read_bytes()).hexdigest()


@pytest.mark.parametrize(("tamper", "words"), [
    ("content", "install.sh: sha256 differs"),
    ("extra", "extra-0-py3-none-any.whl: not in SHA256SUMS"),
    ("no-manifest", "SHA256SUMS is missing"),
    ("version", "not a version"),
])
def test_a_broken_bundle_is_refused_saying_what_is_wrong(tmp_path: Path, tamper: str, words: str) -> None:
    with pytest.raises(Refused) as err:
        read_bundle(make_bundle(tmp_path, "1.4.0", tamper=tamper))
    assert words in err.value.en
    assert "不是完好的更新包" in err.value.zh


def test_not_a_bundle_at_all(tmp_path: Path) -> None:
    junk = tmp_path / "x.tar.gz"
    junk.write_bytes(b"hello" * 100)
    with pytest.raises(Refused, match="not a tar.gz"):
        read_bundle(junk)
    empty = tmp_path / "empty.tar.gz"
    empty.write_bytes(b"")
    with pytest.raises(Refused, match="1 byte to 512 MiB"):
        read_bundle(empty)
    with pytest.raises(Refused, match="cannot read"):
        read_bundle(tmp_path / "missing.tar.gz")


def test_a_model_is_a_real_tflite_under_the_version_named(tmp_path: Path) -> None:
    model = MODELS / "coco_ssd_mobilenet_v1_quant" / "detect.tflite"
    f = read_model(model, "coco-2026.12")
    assert (f.kind, f.version, f.size) == ("model", "coco-2026.12", model.stat().st_size)
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(Refused, match="not a TFLite model"):
        read_model(fake, "1")
    with pytest.raises(Refused, match="is not valid"):
        read_model(model, "../etc")
