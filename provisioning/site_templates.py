"""Site templates: what a pond, a river ford or a forest edge needs, and what its loudspeaker says.

The templates are YAML files in `provisioning/templates/sites/` so a county can read and adjust
the words without touching code. A template chooses which devices `init --interactive` asks for
first, how its cameras watch (people in zones, or fire and smoke), rule defaults (a river's rate
of rise) and the warning texts; a pond must never be told "河水上涨,漫水桥危险".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from provisioning.errors import ProvisioningError


@dataclass(frozen=True)
class SiteTemplate:
    """One kind of site."""

    key: str
    name: dict[str, str]
    description: dict[str, str]
    ask: tuple[str, ...]
    camera_watch: str
    rules: dict[str, Any] = field(default_factory=dict)
    warnings: dict[str, dict[str, Any]] = field(default_factory=dict)


def names() -> list[str]:
    """The template keys, from the files present (pond, river, forest)."""
    folder = resources.files("provisioning") / "templates" / "sites"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load(key: str) -> SiteTemplate:
    """The template `key`; ProvisioningError naming the known ones."""
    if key not in names():
        raise ProvisioningError(f"no site template {key!r}", f"choose one of {', '.join(names())}", exit_code=2)
    text = (resources.files("provisioning") / "templates" / "sites" / f"{key}.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    return SiteTemplate(key, doc["name"], doc["description"], tuple(doc["ask"]), doc.get("camera_watch", "person"),
                        dict(doc.get("rules") or {}), dict(doc.get("warnings") or {}))


def actions(template: SiteTemplate, alarm_kinds: list[str]) -> list[dict[str, Any]]:
    """Loudspeaker actions with the template's words, for the alarm kinds the station can raise."""
    return [{"alarm": kind, "min_severity": w.get("min_severity", "warning"), "text": w["text"],
             "priority": w.get("priority", "emergency"), "repeat": int(w.get("repeat", 2))}
            for kind, w in template.warnings.items() if kind in alarm_kinds]
