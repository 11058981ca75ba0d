"""What `countyctl update` says, Chinese first with English beside it (`foundation.language`)."""

from __future__ import annotations

from county.i18n import Pair

STATE: dict[str, Pair] = {
    "waiting": ("等待", "waiting"),
    "sent": ("已发送", "sent"),
    "downloading": ("下载中", "downloading"),
    "restarting": ("重启中", "restarting"),
    "updated": ("已更新", "updated"),
    "rolled_back": ("已回滚", "rolled back"),
    "refused": ("被拒绝", "refused"),
    "failed": ("失败", "failed"),
    "timeout": ("无回复（超时）", "no reply (timeout)"),
    "skipped": ("已跳过（离线）", "skipped (offline)"),
    "not_sent": ("未发送", "not sent"),
}
STATE_STYLE = {"updated": "green", "rolled_back": "bold red", "refused": "red", "failed": "red", "timeout": "red",
               "skipped": "yellow", "not_sent": "dim", "downloading": "cyan", "restarting": "cyan"}

TITLE: Pair = ("更新 {to}：{n} 个站，先试点 {canary} 个", "update to {to}: {n} station(s), {canary} canary first")
COLUMNS: tuple[Pair, ...] = (("站点", "station"), ("版本", "version"), ("状态", "state"), ("原因", "reason"))
PLAN: Pair = ("将更新 {n} 个在线站点（试点：{canary}；其余 {rest} 个，同时最多 {parallel} 个）；跳过离线 {skipped} 个。",
              ("{n} online station(s) will be updated (canary: {canary}; then {rest} more, at most {parallel} at a time); "
               "{skipped} offline skipped."))
CONFIRM: Pair = ("开始发送更新命令?", "Send the update commands now?")
NO_STATIONS: Pair = ("{prefix} 下没有已知的站点（先运行 countyctl ingest，或检查前缀）", "no station known under {prefix} (run countyctl ingest, or check the prefix)")
NONE_ONLINE: Pair = ("{prefix} 下的站点都不在线，未发送任何命令", "every station under {prefix} is offline; nothing was sent")
SERVING: Pair = ("文件地址：{url}", "serving the file at {url}")
HALTED: Pair = ("已停止：{why}。其余站点未动。", "stopped: {why}. The other stations were not touched.")
CANARY_FAILED: Pair = ("试点站 {station} {state}：{reason}", "canary station {station} {state}: {reason}")
REST_FAILED: Pair = ("站点 {station} {state}：{reason}", "station {station} {state}: {reason}")
DONE: Pair = ("完成：{updated} 个已更新，{failed} 个失败，{skipped} 个跳过，{left} 个未发送。",
              "done: {updated} updated, {failed} failed, {skipped} skipped, {left} not sent.")
ABORTED: Pair = ("已取消，未发送任何命令", "cancelled; nothing was sent")
NEED_URL: Pair = ("请给出 --serve-on HOST:PORT（由本机提供文件）或 --url-base URL（文件已放在县里的网站上）",
                  "give --serve-on HOST:PORT (this tool serves the file) or --url-base URL (the file is on the county's web server)")
WILDCARD_HOST: Pair = ("--serve-on {host} 是通配地址，站点无法访问；请同时给出 --url-base http://本机地址:端口",
                       "--serve-on {host} is a wildcard address a station cannot reach; also give --url-base http://THIS-HOST:PORT")
NEED_VERSION: Pair = ("--kind model 需要 --version（模型的版本名）", "--kind model needs --version (the model's version name)")
BAD_ARGS: Pair = ("更新参数无效：{problem}", "the update arguments are not valid: {problem}")
INTERRUPTED: Pair = (("已中断：不再发送。已发出的 {n} 个命令仍在站点上执行；文件若由本工具提供，未下载完的站点会回复下载失败（旧版本照常运行）。"
                     "结果见 countyctl operator audit 和 countyctl watch。"),
                     ("interrupted: nothing more is sent. The {n} command(s) already out carry on at the stations; where this tool served "
                     "the file, a station still downloading replies failed (its old version runs on). See countyctl operator audit, countyctl watch."))
# Reasons the county itself gives (stations give theirs in English, as the wire contract does).
REASON: dict[str, Pair] = {
    "offline": ("离线", "offline"),
    "presence unknown": ("在线状态未知", "presence unknown"),
    "stopped before its turn": ("已停止，未轮到它", "stopped before its turn"),
}
NO_REPLY: Pair = ("{s} 秒内无最终回复", "no final reply within {s} s")
