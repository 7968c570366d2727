"""How cleanly a world video draws its shape, and how still its background stays, measured from the pixels.

A decoder can be steadier than another by blurring, so steadiness is read beside per-frame quality:

- ``background_flicker``: mean absolute change (0-255) between neighbouring frames over the pixels that are
  background in every frame (farther than ``BACKGROUND_MARGIN`` px from any pixel that is foreground in some
  frame). A plain world background never changes, so everything here is the decoder's or the denoisers' noise.
- ``edge_width``: per frame, the pixels whose colour lies between the background and the caption's palette colour
  (a share of the way ``t`` in ``EDGE_BAND``), divided by the shape's boundary length in pixels. An anti-aliased
  render is about one pixel wide; blur widens it.
- ``interior_error``: the mean RGB distance (0-255) from the caption's palette colour over the shape's interior
  (the ``t >= 0.5`` mask eroded by ``INTERIOR_EROSION`` px): dark blotches inside a shape raise it.
- ``square_fill``: for squares, the share of the bounding box the ``t >= 0.5`` mask fills. The world's squares fill
  ~1.0; pinched or rounded corners lower it towards a circle's pi/4.

Frames whose shape touches the border are left out of the per-frame measures (a clipped shape has no full
boundary). ``tests/unit/eval/test_shape_quality.py`` calibrates each measure on rendered ground truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from models.eval.world_metrics import foreground_mask, shape_features
from models.world import COLOURS, parse_caption

BACKGROUND_MARGIN = 3  # px around any foreground pixel that do not count as background
EDGE_BAND = (0.2, 0.8)  # share of the way from background to shape colour that counts as edge
INTERIOR_EROSION = 2  # px peeled off the shape mask before its interior colour is measured
MIN_SHAPE_PIXELS = 12  # a frame whose shape mask is smaller than this is left out


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square (Chebyshev) dilation of a bool (H, W) mask by ``radius`` pixels."""
    out = mask.copy()
    padded = np.pad(mask, radius)
    height, width = mask.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out |= padded[radius + dy : radius + dy + height, radius + dx : radius + dx + width]
    return out


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    return ~_dilate(~mask, radius)


def background_flicker(frames: np.ndarray) -> float | None:
    """Mean absolute frame-to-frame change (0-255) over the pixels that are background in every frame; ``None``
    when no pixel is (a video of noise, say).

    Args:
        frames: uint8 (F, H, W, 3), F >= 2.
    """
    if frames.ndim != 4 or frames.shape[0] < 2 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (F >= 2, H, W, 3), got {frames.dtype} {frames.shape}")
    shape = np.zeros(frames.shape[1:3], dtype=bool)
    for frame in frames:
        shape |= foreground_mask(frame)[0]
    background = ~_dilate(shape, BACKGROUND_MARGIN)
    if not background.any():
        return None
    change = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=-1)  # (F-1, H, W)
    return float(change[:, background].mean())


@dataclass(frozen=True)
class ShapeQuality:
    """Per-video means over the frames that show the whole shape; ``None`` where no frame qualified."""

    edge_width: float | None
    interior_error: float | None
    square_fill: float | None  # squares only
    frames: int  # frames measured

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def _frame_quality(frame: np.ndarray, colour: np.ndarray) -> tuple[float, float, float] | None:
    """(edge width, interior error, bounding-box fill) of one uint8 frame, or None if the shape is clipped."""
    pixels = frame.astype(np.float32)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    offset = colour - background
    t = ((pixels - background) @ offset) / float(offset @ offset)  # (H, W): 0 background, 1 shape colour
    inside = t >= 0.5
    if inside.sum() < MIN_SHAPE_PIXELS:
        return None
    if inside[0].any() or inside[-1].any() or inside[:, 0].any() or inside[:, -1].any():
        return None
    boundary = inside & ~_erode(inside, 1)
    edge = (t > EDGE_BAND[0]) & (t < EDGE_BAND[1])
    interior = _erode(inside, INTERIOR_EROSION)
    interior_error = (
        float(np.linalg.norm(pixels[interior] - colour, axis=-1).mean()) if interior.any() else float("nan")
    )
    fill = shape_features(inside)[0]
    return float(edge.sum()) / float(boundary.sum()), interior_error, fill


def shape_quality(frames: np.ndarray, caption: str) -> ShapeQuality:
    """Edge width, interior error and (for squares) fill of a world video's shape; see the module docstring.

    Args:
        frames: uint8 (F, H, W, 3).
        caption: a world caption (``models.world.CAPTION``); it names the palette colour and the shape.
    """
    attrs = parse_caption(caption)
    if attrs is None:
        raise ValueError(f"not a world caption: {caption!r}")
    colour = np.array(COLOURS[attrs["colour"]], dtype=np.float32)
    measured = [m for m in (_frame_quality(f, colour) for f in frames) if m is not None]
    if not measured:
        return ShapeQuality(None, None, None, 0)
    edge, interior, fill = (np.array(column) for column in zip(*measured, strict=True))
    interior = interior[~np.isnan(interior)]
    return ShapeQuality(
        edge_width=float(edge.mean()),
        interior_error=float(interior.mean()) if interior.size else None,
        square_fill=float(fill.mean()) if attrs["shape"] == "square" else None,
        frames=len(measured),
    )
