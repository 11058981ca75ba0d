"""`make demo`: a simulated station against a real broker, seen from the county.

Starts a private mosquitto, runs `station-gateway run` on the simulated station as its own
process, and prints what the county receives as a live feed. Halfway through it cuts the broker
for a few seconds, so the feed shows the outbox holding messages and delivering them after.
Ends after `--duration` seconds or on Ctrl-C with a summary that checks every `seq` arrived.
Chinese unless `--lang en` (or an English LANG).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from county.feed import FeedCollector, FeedLine, FeedSubscriber
from county.i18n import LANG_OPTION, language, pick
from county.wording import ALARM_STATES, MESSAGES, PLAYBACK_OUTCOMES, label
from gateway.config.station import load_config
from gateway.localbroker import LocalBroker

console = Console(highlight=False)


def main(
    config: Path = typer.Option(Path("examples/sim-station.yaml"), help="Station config to run."),
    duration: float = typer.Option(60.0, help="Seconds to run before the summary."),
    outage_at: float = typer.Option(22.0, help="Second at which the broker is stopped (0: no outage)."),
    outage_s: float = typer.Option(6.0, help="How long the broker stays down."),
    lang: str | None = LANG_OPTION,
) -> None:
    lg = language(lang)
    cfg = load_config(config)
    workdir = Path("var/demo")
    workdir.mkdir(parents=True, exist_ok=True)
    # a persistent broker and a durable feed session, as a county runs them: what the station
    # publishes while the feed is still reconnecting after the outage is kept for it
    shutil.rmtree(workdir / "broker", ignore_errors=True)  # each demo starts with an empty broker
    broker = LocalBroker(workdir=workdir / "broker", persistent=True).start()
    t0 = time.monotonic()

    def show(line: FeedLine) -> None:
        station = line.station.rsplit("/", 1)[-1]
        seq = f"#{line.seq}" if line.seq is not None else "  "
        text = escape(line.text)
        console.print(f"[dim]{time.monotonic() - t0:5.1f}s[/dim] {station} {seq:>6} " + (f"[{line.style}]{text}[/]" if line.style else text))

    collector = FeedCollector(on_line=show, lang=lg)
    feed = FeedSubscriber(broker.host, broker.port, "vs/v1", collector, client_id="county-demo-feed", durable=True).start()
    feed.connected.wait(5)
    console.rule(pick(lg, (f"县级消息流：消息服务器 127.0.0.1:{broker.port}，站点 {cfg.station.path}",
                           f"county feed: broker 127.0.0.1:{broker.port}, station {cfg.station.path}")))
    log_path = workdir / "gateway.log"
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config), "--broker", f"127.0.0.1:{broker.port}", "--log-level", "INFO"],
        stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )
    interrupted = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    outage_done = outage_at <= 0
    try:
        while not interrupted.is_set() and time.monotonic() - t0 < duration:
            elapsed = time.monotonic() - t0
            if not outage_done and elapsed >= outage_at:
                console.rule("[bold red]" + pick(lg, (f"消息服务器停止 {outage_s:.0f} 秒（模拟链路中断），站点继续缓存消息",
                                                      f"broker stopped for {outage_s:.0f} s (simulated link outage); the station keeps queueing")))
                broker.stop()
                interrupted.wait(outage_s)
                broker.start()
                console.rule("[bold green]" + pick(lg, ("消息服务器已恢复，站点缓存按序号补发", "broker back; the outbox drains in seq order")))
                outage_done = True
            if gateway.poll() is not None:
                console.print("[bold red]" + pick(lg, (f"网关已退出（退出码 {gateway.returncode}），见 {log_path}",
                                                       f"gateway exited with code {gateway.returncode}; see {log_path}")))
                break
            interrupted.wait(0.2)
    finally:
        if gateway.poll() is None:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(15)
            except subprocess.TimeoutExpired:
                gateway.kill()
        time.sleep(1.0)
        feed.stop()
        broker.stop()
    ok = summarise(collector, cfg, log_path, lg)
    raise typer.Exit(0 if ok else 1)


def summarise(collector: FeedCollector, cfg, log_path: Path, lang: str = "zh") -> bool:  # noqa: ANN001
    def t(zh: str, en: str) -> str:
        return pick(lang, (zh, en))

    console.rule(t("汇总", "summary"))
    table = Table(show_header=True, header_style="bold")
    table.add_column(t("项目", "what"))
    table.add_column(t("数量", "count"), justify="right")
    for kind, n in sorted(collector.counts.items()):
        table.add_row(t(f"{label(MESSAGES, kind, lang)}消息", f"{label(MESSAGES, kind, lang)} messages"), str(n))
    for state, n in sorted(collector.alarm_states.items()):
        table.add_row(t(f"告警{label(ALARM_STATES, state, lang)}", f"alarms {label(ALARM_STATES, state, lang)}"), str(n))
    for outcome, n in sorted(collector.playbacks.items()):
        table.add_row(f"{label(MESSAGES, 'playback', lang)} {label(PLAYBACK_OUTCOMES, outcome, lang)}", str(n))
    ok = True
    for station, tracker in collector.seqs.items():
        gaps = tracker.gaps()
        ok &= not gaps
        lo, hi = (min(tracker.seen), max(tracker.seen)) if tracker.seen else (0, -1)
        table.add_row(t(f"{station}：序号 {lo}..{hi}", f"{station}: seq {lo}..{hi}"), t(f"{len(tracker.seen)} 个不同序号", f"{len(tracker.seen)} distinct"))
        table.add_row(t("  缺失的序号", "  missing seqs"), ", ".join(map(str, gaps[:20])) or t("无", "none"))
        table.add_row(t("  重复投递（同一序号收到两次）", "  redeliveries (same seq twice)"), str(tracker.duplicates))
    table.add_row(t("格式错误的消息", "malformed payloads"), str(len(collector.malformed)))
    ok &= not collector.malformed
    console.print(table)
    plays = Path(cfg.loudspeaker.driver.record_dir) / "plays.jsonl" if cfg.loudspeaker else None
    if plays is not None and plays.exists():
        n = sum(1 for _ in plays.open(encoding="utf-8"))
        console.print(t(f"广播记录：{plays}（目前共播放 {n} 次）", f"loudspeaker record: {plays} ({n} plays so far)"))
    console.print(t(f"网关日志：{log_path}", f"gateway log: {log_path}"))
    console.print("[bold green]" + t("所有序号均已收到", "every seq arrived") if ok else "[bold red]" + t("有消息缺失或格式错误", "messages missing or malformed"))
    return ok


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    typer.run(main)
