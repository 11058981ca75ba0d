"""Where a camera's danger zones live in the station file, read from the vision config models.

The zone model is the vision code's (gateway.config.vision); this module finds the list of
zones under a camera (`zones`, possibly inside a sub-section) and the zone's name and polygon
fields from the models, so `stationctl zone` follows that model instead of copying it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gateway.config.vision import CameraConfig

NAME_FIELDS = ("id", "name")
POLYGON_FIELDS = ("polygon", "points")


@dataclass(frozen=True)
class ZoneLayout:
    """The path from a camera entry to its zone list, and the zone's name and polygon fields."""

    path: tuple[str, ...]
    name_field: str
    polygon_field: str
    model: type[BaseModel]
    point_fields: tuple[str, str] | None = None  # set when a point is a mapping ({x: .., y: ..}), not a pair


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Pydantic models named by an annotation (through Optional, Union, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _zone_list(annotation: Any) -> type[BaseModel] | None:
    """The item model if the annotation is a list of zone-like models."""
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) in (list, tuple):
            for item in _models_in(typing.get_args(arg)[0]):
                fields = set(item.model_fields)
                if fields & set(POLYGON_FIELDS):
                    return item
    return None


def find_layout(model: type[BaseModel] = CameraConfig, path: tuple[str, ...] = (), depth: int = 2) -> ZoneLayout | None:
    """The zone list of a camera (searched `depth` sections deep), or None if cameras have no zones."""
    for name, info in model.model_fields.items():
        if "zone" in name:
            item = _zone_list(info.annotation)
            if item is not None:
                fields = item.model_fields
                name_field = next((f for f in NAME_FIELDS if f in fields), "")
                polygon_field = next(f for f in POLYGON_FIELDS if f in fields)
                point_models = [m for a in typing.get_args(fields[polygon_field].annotation) for m in _models_in(a)]
                point_fields = tuple(point_models[0].model_fields)[:2] if point_models else None
                return ZoneLayout((*path, name), name_field, polygon_field, item, point_fields)  # type: ignore[arg-type]
    if depth > 0:
        for name, info in model.model_fields.items():
            if name == "driver":
                continue
            for sub in _models_in(info.annotation):
                found = find_layout(sub, (*path, name), depth - 1)
                if found is not None:
                    return found
    return None


def zone_list(camera_entry: dict[str, Any], layout: ZoneLayout, create: bool = False) -> list[Any] | None:
    """The camera entry's zone list (created with its parent sections when `create`)."""
    node: Any = camera_entry
    for key in layout.path[:-1]:
        if node.get(key) is None:
            if not create:
                return None
            node[key] = {}
        node = node[key]
    if node.get(layout.path[-1]) is None:
        if not create:
            return None
        node[layout.path[-1]] = []
    return node[layout.path[-1]]


def zones_of(camera_cfg: Any, layout: ZoneLayout) -> list[tuple[str, list[tuple[float, float]]]]:
    """(name, polygon) of every zone of a validated camera config."""
    node: Any = camera_cfg
    for key in layout.path:
        node = getattr(node, key, None)
        if node is None:
            return []
    out = []
    for i, zone in enumerate(node):
        name = str(getattr(zone, layout.name_field, "")) if layout.name_field else f"zone-{i + 1}"
        raw = getattr(zone, layout.polygon_field)
        if layout.point_fields:
            fx, fy = layout.point_fields
            points = [(float(getattr(p, fx)), float(getattr(p, fy))) for p in raw]
        else:
            points = [(float(p[0]), float(p[1])) for p in raw]
        out.append((name, points))
    return out
