"""A config that went out redacted and comes back edited keeps the logins it could not see."""

from __future__ import annotations

from foundation.redact import redact_doc, restore_masked

CURRENT = {"cameras": [{"id": "cam-1", "driver": {"url": "rtsp://admin:pw/1@10.0.0.5/main"}},
                       {"id": "cam-2", "driver": {"url": "rtsp://admin:pw2@10.0.0.6/main"}}], "health": {"interval_s": 60}}


def test_an_echoed_masked_url_gets_its_login_back() -> None:
    edited = redact_doc(CURRENT)
    edited["health"]["interval_s"] = 120
    restored = restore_masked(edited, CURRENT)
    assert restored["cameras"][0]["driver"]["url"] == "rtsp://admin:pw/1@10.0.0.5/main"
    assert restored["cameras"][1]["driver"]["url"] == "rtsp://admin:pw2@10.0.0.6/main"
    assert restored["health"]["interval_s"] == 120


def test_a_new_login_or_a_moved_camera_is_taken_as_given() -> None:
    edited = redact_doc(CURRENT)
    edited["cameras"][0]["driver"]["url"] = "rtsp://admin:new@10.0.0.5/main"
    edited["cameras"][1]["driver"]["url"] = "rtsp://***@10.0.0.9/main"  # masked but elsewhere: nothing to restore from
    restored = restore_masked(edited, CURRENT)
    assert restored["cameras"][0]["driver"]["url"] == "rtsp://admin:new@10.0.0.5/main"
    assert restored["cameras"][1]["driver"]["url"] == "rtsp://***@10.0.0.9/main"
