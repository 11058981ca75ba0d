"""What the county's people read: alarm kinds, severities, states and summaries in Chinese first, and the pages' `Say`.

A station's `summary` is an English log line ("4 person(s) in 东塘水面"); the county writes its own
sentence from the structured fields instead (count, longest dwell, level and mark, seconds
without data), in the reader's language. A kind this module does not know keeps the station's
summary, so a newer station never shows an empty line. Text only: the templates and the page's
script escape it. Pure: the caller passes the language and the zone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from county.cases.rules import ACTIONS, RESULTS, STATES
from county.directory import Directory
from county.i18n import Pair, label, pick  # `label` is imported from here by the pages and terminals
from county.people import ROLES

# every alarm and notice kind a station raises (tests/county/test_wording.py reads them from the gateway's code)
KINDS: dict[str, Pair] = {
    "person_in_water_zone": ("有人进入危险水域", "person in the water zone"), "possible_submersion": ("疑似溺水", "possible submersion"),
    "water_level": ("水位", "water level"), "flash_flood": ("山洪", "flash flood"),
    "fire": ("火情", "fire"), "smoke": ("烟雾", "smoke"),
    "sensor_stale": ("传感器无数据", "sensor silent"), "camera_stale": ("摄像头无画面", "camera silent"),
    "vision_unavailable": ("视频识别不可用", "video analysis unavailable"), "disk_low": ("存储空间不足", "disk space low"),
    "disk_full": ("站点缓存无法写入", "outbox cannot store"),
    # one-off notices (health of the station itself)
    "device_offline": ("设备离线", "device offline"), "device_online": ("设备恢复", "device back"),
    "device_error": ("设备故障", "device error"), "loop_crash": ("程序循环重启", "loop restarted"),
    "outbox_full": ("站点缓存已满", "outbox full"), "outbox_unavailable": ("站点缓存不可用", "outbox unavailable"),
    "outbox_corrupt": ("站点缓存损坏", "outbox corrupt"), "seq_skipped": ("消息序号缺口", "messages skipped"),
    "command_rejected": ("指令被拒绝", "command rejected"), "command_keys_invalid": ("县级公钥无效", "county keys invalid"),
    "config_invalid": ("配置文件无效", "config invalid"), "config_rolled_back": ("配置已回滚", "config rolled back"),
    "silence_not_kept": ("静音设置未保存", "silence not kept"), "silence_dropped": ("静音设置已丢弃", "silence dropped"),
    "silence_resumed": ("静音继续生效", "silence resumed"), "speech_unprepared": ("语音未预先合成", "speech not prepared"),
    "suppressions_unreadable": ("屏蔽规则无法读取", "suppressions unreadable"),
    "update_failed": ("软件更新失败", "update failed"), "update_rolled_back": ("软件更新已回滚", "update rolled back"),
}
SEVERITIES: dict[str, Pair] = {"info": ("提示", "info"), "warning": ("警告", "warning"), "danger": ("危险", "danger"),
                               "critical": ("紧急", "critical")}
ALARM_STATES: dict[str, Pair] = {"raised": ("触发", "raised"), "updated": ("更新", "updated"), "acked": ("已确认", "acked"),
                                 "cleared": ("已解除", "cleared")}
DELIVERY: dict[str, Pair] = {"sent": ("已送达", "sent"), "pending": ("待发送", "pending"), "failed": ("发送失败", "failed")}
CASE_ACTIONS: dict[str, Pair] = {**ACTIONS, "open": ("立案派件", "opened"), "merge": ("合并", "merge"), "escalate": ("督办升级", "escalated")}
# the terminal's words (`countyctl feed`, `watch`, `demo`): message kinds, presence, and the values stations put in them
MESSAGES: dict[str, Pair] = {"status": ("状态", "status"), "alarm": ("告警", "alarm"), "telemetry": ("遥测", "telemetry"),
                             "health": ("健康", "health"), "playback": ("广播", "loudspeaker"), "notice": ("通知", "notice"),
                             "reply": ("回复", "reply"), "snapshot": ("快照", "snapshot")}
PRESENCE: dict[str, Pair] = {"online": ("在线", "online"), "offline": ("离线", "offline")}
OFFLINE_REASONS: dict[str, Pair] = {"connection lost": ("连接中断", "connection lost"), "shutdown": ("正常关闭", "shutdown"),
                                    "": ("未说明原因", "no reason")}
CAPABILITIES: dict[str, Pair] = {"water_level": ("水位", "water level"), "fire_input": ("火情探测", "fire input"),
                                 "camera": ("摄像头", "camera"), "loudspeaker": ("广播", "loudspeaker")}
DEVICE_STATES: dict[str, Pair] = {"ok": ("正常", "ok"), "connected": ("已连接", "connected"), "offline": ("离线", "offline")}
PRIORITIES: dict[str, Pair] = {"emergency": ("紧急", "emergency"), "warning": ("警告", "warning"), "announcement": ("通知", "announcement")}
PLAYBACK_OUTCOMES: dict[str, Pair] = {
    "completed": ("已播完", "completed"), "pre-empted": ("被打断", "pre-empted"), "expired": ("已过期", "expired"),
    "cooldown": ("冷却中未播", "cooldown"), "quiet_hours": ("静默时段未播", "quiet hours"), "silenced": ("已静音未播", "silenced"),
    "failed": ("播放失败", "failed"),
}
COMMANDS: dict[str, Pair] = {"announce": ("广播", "announce"), "silence": ("静音", "silence"), "ack": ("确认告警", "ack"),
                             "status": ("查询状态", "status"), "selftest": ("自检", "selftest"), "config/get": ("读取配置", "config/get"),
                             "config/set": ("修改配置", "config/set"), "false_alarm": ("标记误报", "false alarm"), "update": ("软件更新", "update")}
REPLY_OUTCOMES: dict[str, Pair] = {
    **PLAYBACK_OUTCOMES, "done": ("已执行", "done"), "rejected": ("被拒绝", "rejected"), "refused": ("被拒绝", "refused"),
    "failed": ("失败", "failed"), "acked": ("已确认", "acked"), "silenced": ("已静音", "silenced"), "unsilenced": ("已取消静音", "unsilenced"),
    "suppressed": ("已屏蔽", "suppressed"), "unchanged": ("无变化", "unchanged"), "updated": ("已更新", "updated"), "applied": ("已生效", "applied"),
    "passed": ("通过", "passed"), "rolled_back": ("已回滚", "rolled back"), "restarting": ("正在重启", "restarting"),
    "downloading": ("正在下载", "downloading"),
}

_ZONE_IN_SUMMARY = re.compile(r"(?:person\(s\) in|vanished in) (.+?)(?:, one for [\d.]+ s| and not seen leaving.*)?$")
_QUIET_IN_SUMMARY = re.compile(r"quiet for ([\d.]+) s")


def duration(seconds: Any, lang: str) -> str:
    """"2 分 10 秒" / "2 min 10 s": what a person reads, not "130 s"."""
    s = int(round(_num(seconds) or 0))
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    if lang == "en":
        parts = [f"{h} h" if h else "", f"{m} min" if m else "", f"{sec} s" if sec and not h else ""]
        return " ".join(p for p in parts if p) or "0 s"
    parts = [f"{h} 小时" if h else "", f"{m} 分" if m else "", f"{sec} 秒" if sec and not h else ""]
    return " ".join(p for p in parts if p) or "0 秒"


def summary_text(kind: str, state: str, source: str, details: Mapping[str, Any] | None, station_summary: str, lang: str) -> str:
    """The alarm's (or notice's) sentence from its structured fields; the station's own summary for a kind not known here."""
    render = _RENDER.get(kind)
    if render is None:
        return station_summary
    try:
        return render(_Facts(kind, state, source, dict(details or {}), station_summary), lang)
    except (TypeError, ValueError, KeyError, OverflowError):  # a fact missing or of an odd type: the station's words, not a guess
        return station_summary or pick(lang, KINDS[kind])


@dataclass(frozen=True)
class _Facts:
    kind: str
    state: str
    source: str
    details: dict[str, Any]
    summary: str

    @property
    def cleared(self) -> bool:
        return self.state == "cleared"

    def zone(self) -> str:
        """The zone's name: a `zone` detail, else the name the station wrote into its summary, else the source."""
        named = self.details.get("zone")
        if isinstance(named, str) and named:
            return named
        found = _ZONE_IN_SUMMARY.search(self.summary)
        return found.group(1) if found else self.source

    def number(self, key: str) -> float | None:
        return _num(self.details.get(key))

    def need(self, key: str) -> float:
        """A fact the sentence cannot do without (KeyError: the station's own summary is used)."""
        value = self.number(key)
        if value is None:
            raise KeyError(key)
        return value


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _metres(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def _zh_place(where: str) -> str:
    """A code ("cam-1/pond") is kept apart from the Chinese that follows it; a Chinese name is not."""
    return where + " " if where and where[-1].isascii() else where


def _person_zone(f: _Facts, lang: str) -> str:
    where, longest = f.zone(), f.number("max_dwell_s")
    where = _zh_place(where) if lang == "zh" else where
    if f.cleared:
        tail = (f"，最长停留 {duration(longest, lang)}" if lang == "zh" else f"; longest stay {duration(longest, lang)}") if longest else ""
        return f"{where}已无人{tail}" if lang == "zh" else f"no one left in {where}{tail}"
    count = int(f.need("count"))
    longest = max(longest or 0, f.number("dwell_s") or 0)
    if lang == "zh":
        return f"{where}有 {count} 人" + (f"，最长停留 {duration(longest, lang)}" if longest else "")
    return f"{count} {'person' if count == 1 else 'people'} in {where}" + (f", longest stay {duration(longest, lang)}" if longest else "")


def _submersion(f: _Facts, lang: str) -> str:
    where = _zh_place(f.zone()) if lang == "zh" else f.zone()
    if f.cleared or not f.number("lost"):
        return f"{where}疑似溺水告警结束：未再发现人员" if lang == "zh" else f"possible submersion in {where} ended: no one seen again"
    lost, ago = int(f.need("lost")), f.number("last_seen_s_ago")
    if lang == "zh":
        return f"{where}有 {lost} 人消失且未见离开，疑似溺水" + (f"，最后一次看到在 {duration(ago, lang)}前" if ago is not None else "")
    return (f"{lost} {'person' if lost == 1 else 'people'} vanished in {where} and not seen leaving (possible submersion)"
            + (f", last seen {duration(ago, lang)} ago" if ago is not None else ""))


def _water_level(f: _Facts, lang: str) -> str:
    level, warning, danger = f.need("level_m"), f.number("warning_m"), f.number("danger_m")
    if f.cleared:
        return f"{f.source} 水位回落至 {_metres(level)} 米，恢复正常" if lang == "zh" else f"{f.source}: water back to normal ({_metres(level)} m)"
    in_danger = danger is not None and level is not None and level >= danger
    mark = danger if in_danger else warning
    if lang == "zh":
        return f"{f.source} 水位 {_metres(level)} 米，超过{'危险' if in_danger else '警戒'}水位 {_metres(mark)} 米"
    return f"{f.source}: water level {_metres(level)} m, above the {'danger' if in_danger else 'warning'} mark {_metres(mark)} m"


def _flash_flood(f: _Facts, lang: str) -> str:
    if f.cleared:
        return f"{f.source} 水位不再快速上涨" if lang == "zh" else f"{f.source}: water no longer rising fast"
    rate, limit = f.need("rise_m_per_min"), f.number("threshold_m_per_min")
    r, t = ("?" if rate is None else f"{rate:.3f}"), ("?" if limit is None else f"{limit:g}")
    return (f"{f.source} 水位快速上涨：每分钟 {r} 米（阈值 {t} 米/分钟）" if lang == "zh"
            else f"{f.source}: water rising fast, {r} m/min (limit {t} m/min)")


def _fire(f: _Facts, lang: str) -> str:
    what = pick(lang, KINDS[f.kind])
    camera = "evidence" in f.details or "area" in f.details or "peak_area" in f.details
    device = (f"摄像头 {f.source}" if camera else f"{'烟感' if f.kind == 'smoke' else '火焰探测器'} {f.source}") if lang == "zh" else (
        f"camera {f.source}" if camera else f"{f.kind} detector {f.source}")
    if f.cleared:
        quiet = _QUIET_IN_SUMMARY.search(f.summary)
        if lang == "zh":
            return f"{device} 已 {duration(float(quiet.group(1)), lang)}未再报{what}，告警解除" if quiet else f"{device} 未再发现{what}，告警解除"
        return f"{device}: no {what} for {duration(float(quiet.group(1)), lang)}, cleared" if quiet else f"{device}: no more {what}, cleared"
    confirmed = [str(c) for c in f.details.get("confirmed_by") or [] if isinstance(c, str)]
    area = f.number("area")
    if lang == "zh":
        text = f"{device} 发现{what}" + (f"（画面占比 {area * 100:.1f}%）" if camera and area else "")
        return text + (f"，已由 {'、'.join(confirmed)} 确认" if confirmed else "")
    text = f"{device}: {what} detected" + (f" ({area * 100:.1f}% of the picture)" if camera and area else "")
    return text + (f", confirmed by {', '.join(confirmed)}" if confirmed else "")


def _silent(noun_zh: str, noun_en: str, lost_zh: str, lost_en: str) -> Callable[[_Facts, str], str]:
    def render(f: _Facts, lang: str) -> str:
        if f.cleared:
            return f"{noun_zh} {f.source} 已恢复{lost_zh}" if lang == "zh" else f"{noun_en} {f.source} answers again"
        quiet = f.number("silent_s")
        error = f.details.get("last_error")
        tail = f"（{error}）" if lang == "zh" and isinstance(error, str) and error else (f": {error}" if isinstance(error, str) and error else "")
        if quiet is None:
            return f"{noun_zh} {f.source} 无{lost_zh}{tail}" if lang == "zh" else f"{noun_en} {f.source}: no {lost_en}{tail}"
        if lang == "zh":
            return f"{noun_zh} {f.source} 已 {duration(quiet, lang)}无{lost_zh}{tail}"
        return f"{noun_en} {f.source}: no {lost_en} for {duration(quiet, lang)}{tail}"
    return render


def _vision_unavailable(f: _Facts, lang: str) -> str:
    if f.cleared:
        return f"摄像头 {f.source} 恢复视频识别" if lang == "zh" else f"camera {f.source} is watched again"
    error = f.details.get("error")
    tail = f"：{error}" if isinstance(error, str) and error else ""
    return f"摄像头 {f.source} 无法进行视频识别{tail}" if lang == "zh" else f"camera {f.source} is not watched{tail.replace('：', ': ', 1)}"


def _disk_low(f: _Facts, lang: str) -> str:
    free = f.need("free_bytes")
    mib = "?" if free is None else f"{free / 1024 / 1024:.0f}"
    if f.cleared:
        return f"站点存储空间已恢复（剩余 {mib} MiB）" if lang == "zh" else f"disk space back ({mib} MiB free)"
    return f"站点存储空间不足：剩余 {mib} MiB" if lang == "zh" else f"disk space low: {mib} MiB free"


def _disk_full(f: _Facts, lang: str) -> str:
    d = f.details
    if f.cleared:
        n = {k: int(f.need(k)) for k in ("sent_unstored", "telemetry_not_stored", "lost")}
        if lang == "zh":
            return (f"站点缓存 {duration(f.number('seconds'), lang)}后恢复写入：{n['sent_unstored']} 条告警未存直接发出，"
                    f"{n['telemetry_not_stored']} 条监测数据未保存，{n['lost']} 条丢失")
        return (f"the outbox stores again after {duration(f.number('seconds'), lang)}: {n['sent_unstored']} alarm(s) sent unstored, "
                f"{n['telemetry_not_stored']} telemetry message(s) not kept, {n['lost']} lost")
    error = d.get("error") if isinstance(d.get("error"), str) else ""
    return ("站点缓存无法写入，告警改为直接发送" + (f"（{error}）" if error else "") if lang == "zh"
            else "the outbox cannot store; alarms go out from memory" + (f" ({error})" if error else ""))


def _device(f: _Facts, lang: str) -> str:
    what = pick(lang, KINDS[f.kind])
    return f"{what}：{f.source}" if lang == "zh" else f"{what}: {f.source}"


def _notice(f: _Facts, lang: str) -> str:
    """A one-off notice: its words, and the station's own line for the particulars (which file, which command)."""
    what = pick(lang, KINDS[f.kind])
    return f"{what}{pick(lang, ('：', ': '))}{f.summary}" if f.summary else what


_RENDER: dict[str, Callable[[_Facts, str], str]] = {
    "person_in_water_zone": _person_zone, "possible_submersion": _submersion, "water_level": _water_level,
    "flash_flood": _flash_flood, "fire": _fire, "smoke": _fire,
    "sensor_stale": _silent("传感器", "sensor", "数据", "reading"), "camera_stale": _silent("摄像头", "camera", "画面", "frame"),
    "vision_unavailable": _vision_unavailable, "disk_low": _disk_low, "disk_full": _disk_full,
    "device_offline": _device, "device_online": _device,
    **{k: _notice for k in KINDS if k not in ("person_in_water_zone", "possible_submersion", "water_level", "flash_flood", "fire", "smoke",
                                               "sensor_stale", "camera_stale", "vision_unavailable", "disk_low", "disk_full",
                                               "device_offline", "device_online")},
}


def alarm_words(record: Mapping[str, Any], lang: str) -> dict[str, str]:
    """The fields the board API adds to an alarm (or notice) record: `text`, `kind_label`, `severity_label`, `state_label`."""
    kind = str(record.get("alarm") or record.get("notice") or "")
    state = str(record.get("state") or "")
    return {
        "text": summary_text(kind, state, str(record.get("source") or ""), record.get("details") if isinstance(record.get("details"), dict)
                             else None, str(record.get("summary") or ""), lang),
        "kind_label": label(KINDS, kind, lang),
        "severity_label": label(SEVERITIES, str(record.get("severity") or ""), lang),
        "state_label": label(ALARM_STATES, state, lang) if state else "",
    }


@dataclass(frozen=True)
class Say:
    """The page's words, names and times, handed to every template as `say` (times in the county's zone, with the date)."""

    lang: str
    tz: tzinfo
    names: Directory = field(default_factory=Directory)
    birth: Callable[[str], Mapping[str, Any] | None] | None = None  # a station's birth message names (the board's card)

    def t(self, zh: str, en: str) -> str:
        return pick(self.lang, (zh, en))

    def at(self, epoch: float | None) -> str:
        return "" if not epoch else datetime.fromtimestamp(epoch, self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def state(self, key: str) -> str:
        return label(STATES, key, self.lang)

    def action(self, key: str) -> str:
        return label(CASE_ACTIONS, key, self.lang)

    def alarm_state(self, key: str) -> str:
        """A step of the station's own alarm lifecycle."""
        return label(ALARM_STATES, key, self.lang)

    def delivery(self, key: str) -> str:
        return label(DELIVERY, key, self.lang)

    def actor(self, name: str) -> str:
        """Who did a step: an account name, or the loop itself (automatic opening, escalation)."""
        return self.t("系统", "system") if name == "system" else name

    def result(self, key: str | None) -> str:
        return label(RESULTS, key, self.lang) if key else ""

    def kind(self, key: str) -> str:
        return label(KINDS, key, self.lang)

    def severity(self, key: str) -> str:
        return label(SEVERITIES, key, self.lang)

    def role(self, key: str) -> str:
        return label(ROLES, key, self.lang)

    def place(self, path: str, name: str = "") -> str:
        """A station's (or township's, village's) display name: "小旗乡 竹洼村 竹洼塘" for 410421/xiaoqi/zhuwa/pond-01."""
        told = self.birth(path) if self.birth is not None else None
        return self.names.display(path, self.lang, {**(told or {}), **({"name": name} if name else {})})

    def labels(self, station: str) -> dict[str, str]:
        """{"county", "town", "village", "station"} display names of a station (see `Directory.labels`)."""
        return self.names.labels(station, self.lang, self.birth(station) if self.birth is not None else None)

    def summary(self, kind: str, state: str, source: str, details: Mapping[str, Any] | None, station_summary: str) -> str:
        return summary_text(kind, state, source, details, station_summary, self.lang)
