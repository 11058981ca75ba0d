"""Camera logins never leave the station in clear: the commissioning report masks them as `check` does.

Issue 14 item 9: `stationctl report` wrote `rtsp://admin:PASSWORD@...` into report.html and
report.json, which go to the county's archive.
"""

from __future__ import annotations

import json
from pathlib import Path

from foundation.redact import redact, redact_doc
from gateway.localbroker import free_port
from tests.provisioning.conftest import sim_station, stationctl
from tests.stations import write_station

PASSWORD = "Xq7-pond-Secret"
ODD_PASSWORD = "p@ss w/ord"  # an @, a slash and a space: no URL pattern sees this one whole


def rtsp_camera(cam_id: str, password: str) -> dict:
    """An IP camera nobody answers for (a closed port): the check fails fast and quotes the URL."""
    url = f"rtsp://admin:{password}@127.0.0.1:{free_port()}/Streaming/Channels/102"
    return {"id": cam_id, "driver": {"type": "rtsp", "url": url, "timeout_s": 1.0, "stall_s": 1.0}}


def test_report_masks_camera_logins_everywhere(tmp_path: Path, broker) -> None:
    doc = sim_station(tmp_path, broker.port)
    doc["cameras"] = [rtsp_camera("gate", PASSWORD), rtsp_camera("bridge", ODD_PASSWORD)]
    config = write_station(tmp_path / "station.yaml", doc)
    assert PASSWORD in config.read_text(encoding="utf-8")  # the station file itself keeps it: the gateway needs it
    out = tmp_path / "report"
    result = stationctl("report", "--config", config, "--out", out, "--samples", 2, "--frames", 2, "--no-sound")

    written = {name: (out / name).read_text(encoding="utf-8") for name in ("report.json", "report.html")}
    for name, text in {**written, "terminal": result.output}.items():
        for secret in (PASSWORD, ODD_PASSWORD, "w/ord", "admin:"):
            assert secret not in text, f"{secret!r} in {name}"
    report = json.loads(written["report.json"])
    where = {d["id"]: d["where"] for d in report["devices"]}
    assert where["gate"].startswith("rtsp://***@127.0.0.1:") and where["gate"].endswith("/Streaming/Channels/102")
    assert where["bridge"].startswith("rtsp://***@127.0.0.1:")
    assert "rtsp://***@127.0.0.1:" in report["config_text"]
    assert report["config_text"].count("***@") == 2
    cameras = {r["target"]: r for r in report["results"] if r["check"] == "camera"}
    assert cameras["gate"]["status"] == "fail"  # the failing row quotes the camera, masked


def test_check_json_masks_camera_logins(tmp_path: Path, broker) -> None:
    doc = sim_station(tmp_path, broker.port)
    doc["cameras"] = [rtsp_camera("gate", PASSWORD)]
    config = write_station(tmp_path / "station.yaml", doc)
    result = stationctl("check", "--config", config, "--json", "--only", "camera", "--frames", 2)
    assert result.exit_code == 1
    assert PASSWORD not in result.output and "rtsp://" in result.output


def test_redact_keeps_the_address_and_drops_the_login() -> None:
    assert redact("rtsp://admin:pw@192.168.1.64:554/Streaming/Channels/102") == "rtsp://***@192.168.1.64:554/Streaming/Channels/102"
    assert redact("url: 'rtsps://u:p@w@cam.local/live'  # old: rtsp://a:b@10.0.0.9/x") == "url: 'rtsps://***@cam.local/live'  # old: rtsp://***@10.0.0.9/x"
    assert redact("rtsp://10.0.0.9/live and a@b.example") == "rtsp://10.0.0.9/live and a@b.example"
    url = f"rtsp://admin:{ODD_PASSWORD}@10.0.0.9/live"
    assert redact(f'url: "{url}"', known=[url]) == 'url: "rtsp://***@10.0.0.9/live"'
    assert redact_doc({"a": [url, 3, None], "b": {"c": url}}, [url]) == {"a": ["rtsp://***@10.0.0.9/live", 3, None], "b": {"c": "rtsp://***@10.0.0.9/live"}}
