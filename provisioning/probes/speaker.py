"""The loudspeaker: play the test phrase through the real driver (amplifier relay included)."""

from __future__ import annotations

import threading
import time

from drivers.base import Utterance
from foundation.errors import GatewayError
from gateway.config.station import StationConfig
from gateway.devices import build_speaker
from provisioning.probes import Say, quiet
from provisioning.results import CheckResult

TEST_PHRASE = "这是广播系统测试。一，二，三。"


def probe_speaker(cfg: StationConfig, phrase: str = TEST_PHRASE, say: Say = quiet) -> list[CheckResult]:
    if cfg.loudspeaker is None:
        return []
    started = time.monotonic()
    values: dict[str, object] = {"driver": cfg.loudspeaker.driver.type, "phrase": phrase}
    say("♪")
    try:
        speaker = build_speaker(cfg.loudspeaker)
    except (GatewayError, OSError, ValueError, RuntimeError) as exc:
        return [CheckResult.of("speaker", "loudspeaker", "fail", (f"驱动启动失败：{exc}", f"cannot start the driver: {exc}"), values,
                               hint=("安装 alsa-utils 和 espeak-ng，检查功放继电器的引脚，然后再检查一次",
                                     "install alsa-utils and espeak-ng, check the amplifier relay pin, then check again"))]
    try:
        result = speaker.play(Utterance(text=phrase), threading.Event())
    except (GatewayError, OSError, ValueError, RuntimeError) as exc:
        return [CheckResult.of("speaker", "loudspeaker", "fail", (f"播放失败：{exc}", f"could not play: {exc}"), values,
                               hint=("检查 ALSA 设备（aplay -l 列出声卡；例如用 plughw:CARD=Device,DEV=0）和功放电源",
                                     "check the ALSA device (aplay -l lists the cards; use e.g. plughw:CARD=Device,DEV=0) "
                                     "and the amplifier's power"))]
    finally:
        speaker.close()
    played = round(result.ended - result.started, 2)
    values.update(completed=result.completed, played_s=played)
    if not result.completed:
        return [CheckResult.of("speaker", "loudspeaker", "fail", (f"播放 {played} 秒后提前停了", f"playback stopped early after {played} s"),
                               values, hint=("检查 ALSA 设备，然后再检查一次", "check the ALSA device and run the check again"))]
    return [CheckResult.of("speaker", "loudspeaker", "pass",
                           (f"已播放测试语音（{played} 秒）：请确认现场听到了", f"played the test phrase ({played} s): listen that it was heard"),
                           values, duration_s=round(time.monotonic() - started, 2))]
