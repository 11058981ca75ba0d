"""The words of the commissioning report, Chinese (the county's archive) and English.

Only the report's own words are here, with the status and check names of `stationctl check`'s
table (`provisioning.results`), so the page and the terminal say the same. A probe's summary and
next step come in both languages with the row (`report_render.said` picks); what a device or a
driver said (its error) is quoted as it came, so nothing is lost in translation.
"""

from __future__ import annotations

from typing import Any

from provisioning.i18n import COLON
from provisioning.results import CHECK_NAMES, STATUS_WORDS, TARGET_NAMES

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("站点调试报告", "Commissioning report"),
    "checked_at": ("检查时间", "checked at"),
    "technician": ("调试人员", "technician"),
    "gateway_version": ("网关版本", "gateway version"),
    "station_file": ("站点文件", "station file"),
    "config_hash": ("配置哈希", "config hash"),
    "all_passed": ("全部检查通过", "All checks passed"),
    "n_failed": ("项检查未通过", "check(s) failed"),
    "counts": ("通过 {pass} 项，警告 {warn} 项，失败 {fail} 项，跳过 {skip} 项", "{pass} pass, {warn} warn, {fail} fail, {skip} skipped"),
    "self_test": ("自检", "Self-test"),
    "check": ("检查", "check"),
    "target": ("对象", "target"),
    "result": ("结果", "result"),
    "details": ("详情", "details"),
    "next": ("下一步", "next"),
    "colon": COLON,
    "readings": ("读数", "Readings"),
    "sensor": ("传感器", "sensor"),
    "readings_m": ("读数（米）", "readings (m)"),
    "median_m": ("中位数（米）", "median (m)"),
    "thresholds_m": ("预警 / 危险（米）", "warning / danger (m)"),
    "cameras": ("摄像头与危险区", "Cameras and danger zones"),
    "snapshot": ("快照", "snapshot"),
    "zones_picture": ("危险区（各区不同颜色）与检出的人", "danger zones (one colour each) and people found"),
    "no_snapshot": ("没有快照：摄像头检查未通过", "no snapshot: the camera check failed"),
    "zone": ("危险区", "zone"),
    "colour": ("颜色", "colour"),
    "corners": ("角点（x, y，占画面的比例）", "corners (x, y as fractions of the frame)"),
    "no_zone": ("这个摄像头没有设危险区。", "No danger zone is set for this camera."),
    "persons": ("画面中检出 {n} 人", "{n} person(s) found in the picture"),
    "no_cameras": ("没有摄像头。", "No cameras."),
    "devices": ("设备", "Devices"),
    "kind": ("类型", "kind"),
    "id": ("编号", "id"),
    "driver": ("驱动", "driver"),
    "where": ("位置", "where"),
    "settings": ("设置", "settings"),
}
STATUS = STATUS_WORDS
CHECKS = CHECK_NAMES
KINDS = {"water level": ("水位计", "water level"), "fire": ("火焰探测", "fire"), "smoke": ("烟雾探测", "smoke"),
         "camera": ("摄像头", "camera"), "loudspeaker": ("广播喇叭", "loudspeaker")}


def texts(lang: str) -> dict[str, Any]:
    """The report's words in `lang` ("zh" or "en"), with the status, check and device-kind names."""
    i = 1 if lang == "en" else 0
    out: dict[str, Any] = {k: v[i] for k, v in TEXTS.items()}
    out["status"] = {k: v[i] for k, v in STATUS.items()}
    out["checks"] = {k: v[i] for k, v in CHECKS.items()}
    out["targets"] = {k: v[i] for k, v in TARGET_NAMES.items()}
    out["kinds"] = {k: v[i] for k, v in KINDS.items()}
    out["lang"] = "en" if lang == "en" else "zh-CN"
    return out
