"""Fire and smoke inputs: read each one a few times with its real driver."""

from __future__ import annotations

import time

from foundation.errors import GatewayError
from gateway.config.station import FireInputConfig, StationConfig
from gateway.devices import build_fire_input
from provisioning.probes import Say, quiet
from provisioning.results import CheckResult

GPIO_HINT = ("check the wiring and the pin number (BCM numbering); on a bench without the board, "
             "set GPIOZERO_PIN_FACTORY=mock")


def probe_one(cfg: FireInputConfig, samples: int, say: Say = quiet) -> CheckResult:
    started = time.monotonic()
    values: dict[str, object] = {"driver": cfg.driver.type, "kind": cfg.kind}
    try:
        device = build_fire_input(cfg)
    except (GatewayError, OSError, ValueError, RuntimeError) as exc:
        return CheckResult("fire", cfg.id, "fail", f"cannot start the driver: {exc}", values, hint=GPIO_HINT)
    states: list[bool] = []
    try:
        for i in range(samples):
            say(f"{cfg.id} read {i + 1}/{samples}")
            states.append(bool(device.is_active()))
            analog = getattr(device, "last_value", None)
            if analog is not None:
                values.setdefault("analog", []).append(round(float(analog), 4))  # type: ignore[union-attr]
            time.sleep(0.05)
    except (GatewayError, OSError, ValueError, RuntimeError) as exc:
        values["states"] = states
        return CheckResult("fire", cfg.id, "fail", f"read failed: {exc}", values, hint=GPIO_HINT)
    finally:
        device.close()
    values["states"] = states
    shown = " ".join("ACTIVE" if s else "idle" for s in states)
    row = CheckResult("fire", cfg.id, "pass", f"{cfg.kind} input: {shown}", values, duration_s=round(time.monotonic() - started, 2))
    if any(states):
        row.status = "warn"
        row.hint = ("the input reports fire/smoke now: if there is none, check the pull and active settings "
                    "(a normally-closed contact is active: high) and the wiring")
    return row


def probe_fire(cfg: StationConfig, samples: int, say: Say = quiet) -> list[CheckResult]:
    return [probe_one(inp, samples, say) for inp in cfg.fire_inputs]
