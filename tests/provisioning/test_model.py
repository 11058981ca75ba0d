"""`stationctl model install`: hash-verified, tried once with LiteRT, renamed into place only then.

The shared SSD model is read from ../shared/models (never copied into the repository); the URL
case downloads it from an http.server on loopback. The technician reads Chinese unless `--lang en`."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MEDIA, MODELS
from tests.provisioning.conftest import SSD, SSD_SHA256, stationctl

LABELS_SHA256 = "c7e79c855f73cbba9f33d649d60e1676eb0a974021a41696d1ac0d4b7f7e0211"


@pytest.fixture
def model_server() -> Iterator[str]:
    """http://127.0.0.1:PORT serving the shared models folder."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(MODELS))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_install_from_a_path_runs_the_model_on_a_test_frame(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    result = stationctl("model", "install", SSD / "detect.tflite", "--sha256", SSD_SHA256, "--dest", dest,
                        "--labels", SSD / "labelmap.txt", "--test-image", MEDIA / "people" / "messi5.jpg", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert (dest / "detect.tflite").stat().st_size == 4183312
    assert (dest / "labelmap.txt").exists()
    assert "input 300x300 uint8" in result.output and "person" in result.output
    assert sorted(p.name for p in dest.iterdir()) == ["detect.tflite", "labelmap.txt"]


def test_install_from_a_url(tmp_path: Path, model_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    dest = tmp_path / "models"
    url = f"{model_server}/coco_ssd_mobilenet_v1_quant/detect.tflite"
    result = stationctl("model", "install", url, "--sha256", SSD_SHA256.upper(), "--dest", dest, "--name", "person-ssd.tflite")
    assert result.exit_code == 0, result.output
    assert [p.name for p in dest.iterdir()] == ["person-ssd.tflite"]
    # Chinese by default: the hash check, the install line with the input size, the next step
    assert "校验值 sha256 正确" in result.output and "已安装" in result.output and "输入 300x300 uint8" in result.output
    assert "下一步" in result.output and "installed" not in result.output
    missing = stationctl("model", "install", f"{model_server}/nope.tflite", "--sha256", SSD_SHA256, "--dest", dest, "--lang", "en")
    assert missing.exit_code == 1 and "cannot download" in missing.output and "next:" in missing.output
    missing_zh = stationctl("model", "install", f"{model_server}/nope.tflite", "--sha256", SSD_SHA256, "--dest", dest)
    assert missing_zh.exit_code == 1 and "无法下载" in missing_zh.output and "检查网址" in missing_zh.output


def test_wrong_hash_or_unusable_file_leaves_the_old_model_untouched(tmp_path: Path, model_server: str) -> None:
    dest = tmp_path / "models"
    dest.mkdir()
    old = dest / "detect.tflite"
    old.write_bytes(b"the model in service")

    url = f"{model_server}/coco_ssd_mobilenet_v1_quant/detect.tflite"
    mismatch = stationctl("model", "install", url, "--sha256", "0" * 64, "--dest", dest, "--lang", "en")
    assert mismatch.exit_code == 2
    assert "sha256 mismatch" in mismatch.output and SSD_SHA256 in mismatch.output and "nothing was installed" in mismatch.output

    # the right hash of a file that is not a model: it fails the trial run
    not_model = stationctl("model", "install", SSD / "labelmap.txt", "--sha256", LABELS_SHA256, "--dest", dest, "--name", "detect.tflite", "--lang", "en")
    assert not_model.exit_code == 1 and "does not run" in not_model.output

    assert [p.name for p in dest.iterdir()] == ["detect.tflite"]  # no temporary file left behind
    assert old.read_bytes() == b"the model in service"

    bad_hash = stationctl("model", "install", url, "--sha256", "abc", "--dest", dest, "--lang", "en")
    assert bad_hash.exit_code == 2 and "64 hex digits" in bad_hash.output
    bad_hash_zh = stationctl("model", "install", url, "--sha256", "abc", "--dest", dest, "--lang", "zh")
    assert bad_hash_zh.exit_code == 2 and "64 位十六进制" in bad_hash_zh.output and "hex digits" not in bad_hash_zh.output
