"""Fire and smoke inputs: read each one a few times with its real driver."""

from __future__ import annotations

import time

from foundation.errors import GatewayError
from gateway.config.station import FireInputConfig, StationConfig
from gateway.devices import build_fire_input
from provisioning.i18n import Pair
from provisioning.probes import Say, quiet
from provisioning.results import NO_HINT, CheckResult

GPIO_HINT: Pair = ("检查接线和引脚号（BCM 编号）；在没接板子的台子上测试时，设置 GPIOZERO_PIN_FACTORY=mock",
             "check the wiring and the pin number (BCM numbering); on a bench without the board, set GPIOZERO_PIN_FACTORY=mock")
KIND: dict[str, Pair] = {"fire": ("火焰", "fire"), "smoke": ("烟雾", "smoke")}


def probe_one(cfg: FireInputConfig, samples: int, say: Say = quiet) -> CheckResult:
    started = time.monotonic()
    values: dict[str, object] = {"driver": cfg.driver.type, "kind": cfg.kind}
    try:
        device = build_fire_input(cfg)
    except (GatewayError, OSError, ValueError, RuntimeError) as exc:
        return CheckResult.of("fire", cfg.id, "fail", (f"驱动启动失败：{exc}", f"cannot start the driver: {exc}"), values, hint=GPIO_HINT)
    states: list[bool] = []
    try:
        for i in range(samples):
            say(f"{cfg.id} {i + 1}/{samples}")
            states.append(bool(device.is_active()))
            analog = getattr(device, "last_value", None)
            if analog is not None:
                values.setdefault("analog", []).append(round(float(analog), 4))  # type: ignore[union-attr]
            time.sleep(0.05)
    except (GatewayError, OSError, ValueError, RuntimeError) as exc:
        values["states"] = states
        return CheckResult.of("fire", cfg.id, "fail", (f"读取失败：{exc}", f"read failed: {exc}"), values, hint=GPIO_HINT)
    finally:
        device.close()
    values["states"] = states
    kind_zh, kind_en = KIND.get(cfg.kind, (cfg.kind, cfg.kind))
    shown_zh = " ".join("报警" if s else "正常" for s in states)
    shown_en = " ".join("ACTIVE" if s else "idle" for s in states)
    active = any(states)  # a warning: the input says fire/smoke now
    hint = ("输入现在报有火/烟：如果现场并没有，检查 pull 和 active 设置（常闭触点要设 active: high）和接线",
            "the input reports fire/smoke now: if there is none, check the pull and active settings "
            "(a normally-closed contact is active: high) and the wiring") if active else NO_HINT
    return CheckResult.of("fire", cfg.id, "warn" if active else "pass", (f"{kind_zh}输入：{shown_zh}", f"{kind_en} input: {shown_en}"),
                          values, hint=hint, duration_s=round(time.monotonic() - started, 2))


def probe_fire(cfg: StationConfig, samples: int, say: Say = quiet) -> list[CheckResult]:
    return [probe_one(inp, samples, say) for inp in cfg.fire_inputs]
