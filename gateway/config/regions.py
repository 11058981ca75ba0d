"""Where in a camera's frame the person detector looks, and at what resolution (regions).

Its own module because the regions grew (tiles, budget, revisits, the far band) into the largest
block of the detection settings; gateway.config.vision uses it for `detection.regions`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.config.base import ConfigModel


class RegionsConfig(ConfigModel):
    """Where in the frame the detector looks, at what resolution (why: a person 20-40 px tall in a
    1080p frame vanishes when the whole frame is squeezed to the model's 300x300 input).

    Which stream is analysed (main or sub) is the driver's URL: regions pay off on the main
    stream, where a far swimmer has the pixels to be found; the sub-stream decodes cheaper.
    """

    mode: Literal["full", "zones", "tiles"] = Field(
        default="full",
        description="full: the whole frame squeezed to the model input (one invoke); zones: each zone's bounding box "
        "(plus margin) cropped at native resolution, one invoke per zone; tiles: each zone's box covered with "
        "overlapping square tiles of tile_size pixels (plus a coarse layer of regions as high as the box, at least two "
        "tiles, for people taller than a tile), "
        "run within max_invokes per frame, moving tiles first.",
    )
    tile_size: int = Field(
        default=320, ge=64, le=2048,
        description="Side of a tile in frame pixels; near the model input (300) keeps native resolution, smaller zooms in "
        "(more tiles, smaller people found), larger zooms out.",
    )
    overlap: float = Field(
        default=0.25, ge=0, le=0.75, description="Fraction of a tile shared with its neighbour, so a person on a seam is whole in one tile."
    )
    margin: float = Field(
        default=0.02, ge=0, le=0.25, description="Added around each zone's bounding box, as a fraction of the frame's larger side."
    )
    max_invokes: int = Field(
        default=6, ge=1, le=64, description="tiles: most detector runs per analysed frame (the CPU budget of one frame)."
    )
    revisit_s: float = Field(
        default=2.0, gt=0, le=60,
        description="tiles: every tile is run at least this often even when its picture does not change (a still swimmer); "
        "frames are analysed for it even when the motion gate would skip them, at most max_invokes tiles a frame.",
    )
    motion_width: int = Field(
        default=480, ge=64, le=1920, description="tiles: width of the grey thumbnail used to tell which tiles changed."
    )
    motion_min_changed: float = Field(
        default=0.001, gt=0, le=1,
        description="tiles: fraction of a tile's thumbnail pixels that must change for the tile to count as moving "
        "(a tile, not the whole frame: a far swimmer moves a few pixels); the grey-level step is motion.pixel_threshold.",
    )
    far_band: float = Field(
        default=0.0, ge=0, le=1,
        description="tiles: top fraction of each zone's box (the far water, where a person is 15-30 px tall) also covered "
        "with far_tile_size tiles, scored by the far swimmer head with head: swimmer or centre; 0 = none. Each is one more region for the budget.",
    )
    far_tile_size: int = Field(default=64, ge=32, le=320, description="tiles: side of the far band's tiles in frame pixels.")
    far_min_score: float | None = Field(
        default=None, ge=0, le=1, description="tiles: score a far-band detection needs (None: detection.min_score); raise it where "
        "`stationctl detect` shows false boxes on the far bank.",
    )
