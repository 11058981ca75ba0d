"""The `commands:` section of the station file: keys inline or in files, clear errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from foundation.errors import ConfigError
from gateway.config.station import parse_config
from tests.stations import station_dict
from wire.signing import key_id, public_to_base64


def text_with(tmp: Path, commands: dict) -> str:
    doc = station_dict(tmp, 1883)
    doc["commands"] = commands
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def test_no_section_means_no_keys() -> None:
    cfg = parse_config(yaml.safe_dump(station_dict(Path("/tmp"), 1883)))
    assert cfg.commands.keys == [] and cfg.commands.text_max_chars == 200


def test_keys_inline_and_from_pem_file_for_a_rotation(tmp_path: Path) -> None:
    new, old = Ed25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate().public_key()
    pem = tmp_path / "old.pub.pem"
    pem.write_bytes(old.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    cfg = parse_config(text_with(tmp_path, {"keys": [{"name": "county-2026", "public_key": public_to_base64(new)},
                                                     {"name": "county-2025", "public_key_file": str(pem)}]}))
    assert [key_id(k.load()) for k in cfg.commands.keys] == [key_id(new), key_id(old)]


@pytest.mark.parametrize("key, expected", [
    ({"name": "k", "public_key": "bm90IGEga2V5"}, "32 bytes"),
    ({"name": "k", "public_key_file": "/nonexistent/key.pub"}, "does not exist"),
    ({"name": "k", "public_key_file": "/dev/zero"}, "not a regular file"),  # would never end if read whole
    ({"name": "k"}, "exactly one"),
    ({"name": "k", "public_key": "x", "typo": 1}, "Extra inputs"),
])
def test_bad_keys_name_the_field_and_line(tmp_path: Path, key: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text_with(tmp_path, {"keys": [key]}))
    assert any(expected in p and "commands.keys[0]" in p and "line" in p for p in err.value.problems), err.value.problems


def test_a_key_file_that_is_a_fifo_or_huge_is_refused_without_hanging(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came: start-up would hang
    huge = tmp_path / "huge.pub"
    huge.write_bytes(b"A" * 1_000_000)
    for path, expected in ((fifo, "not a regular file"), (huge, "larger than")):
        with pytest.raises(ConfigError) as err:
            parse_config(text_with(tmp_path, {"keys": [{"name": "k", "public_key_file": str(path)}]}))
        assert any(expected in p for p in err.value.problems), err.value.problems
