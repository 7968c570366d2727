"""Does a video show its world caption? Colour, shape, background and direction measured from the pixels.

The measures follow how ``models.world.render`` draws a clip: one shape of a palette colour over a plain
background. Per frame:

- background: the nearest ``BACKGROUNDS`` colour to the frame's median colour (the shape covers a few percent of
  the frame, so the median is background);
- foreground: pixels farther than ``FOREGROUND_DISTANCE`` (RGB, 0-255 units) from that median colour; every
  palette colour is at least 130 from either background, so the threshold sits near half of that;
- colour: the nearest ``COLOURS`` entry to the mean foreground colour;
- shape: the foreground mask's fill ratio of its bounding box (circle pi/4 ~ 0.785, square 1.0, triangle 0.5)
  and the share of the mask in the top half of its box (the world's triangles point up: 0.25, else 0.5), matched
  to the nearest prototype;
- direction: the foreground centroid's displacement from the first to the last quarter of the frames.

Per-video answers are majority votes (colour, shape, background) over the frames that show a shape, so a few bad
frames do not flip them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from models.world import BACKGROUNDS, COLOURS, DIRECTIONS, parse_caption

FOREGROUND_DISTANCE = 60.0  # RGB distance (0-255) from the background colour that counts as shape
MIN_FOREGROUND_PIXELS = 6  # fewer than this in a frame: no shape there
MIN_DISPLACEMENT = 0.05  # centroid travel below this fraction of the frame size: "static"

# (fill ratio of the bounding box, share of the mask in the top half of the box) of each ideal shape.
SHAPE_PROTOTYPES: dict[str, tuple[float, float]] = {
    "circle": (np.pi / 4, 0.5),
    "square": (1.0, 0.5),
    "triangle": (0.5, 0.25),
}
STATIC = "static"
NONE = "none"  # no shape found

_PALETTE = np.array(list(COLOURS.values()), dtype=np.float32)  # (K, 3)
_BACKGROUND_PALETTE = np.array(list(BACKGROUNDS.values()), dtype=np.float32)


@dataclass(frozen=True)
class FrameMeasure:
    """What one frame shows; ``None`` fields mean no shape was found in the frame."""

    background: str
    foreground_pixels: int
    colour: str | None
    fill_ratio: float | None
    top_share: float | None
    centroid: tuple[float, float] | None  # (x, y) in pixels


@dataclass(frozen=True)
class WorldReading:
    """The attributes one video shows, read from its pixels (``none``: no shape; ``static``: no motion)."""

    colour: str
    shape: str
    direction: str
    background: str
    fill_ratio: float | None  # median over frames with a shape
    top_share: float | None
    displacement: tuple[float, float] | None  # (dx, dy) in pixels, last quarter minus first quarter
    frames_with_shape: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class WorldScore:
    """A reading checked against the caption's attributes."""

    expected: dict[str, str]
    reading: WorldReading
    colour: bool
    shape: bool
    direction: bool
    background: bool

    @property
    def attributes(self) -> bool:
        """Colour, shape and direction all right (the issue's criterion)."""
        return self.colour and self.shape and self.direction

    @property
    def all(self) -> bool:
        """Every attribute right, background included."""
        return self.attributes and self.background

    def to_dict(self) -> dict[str, object]:
        return {
            "expected": self.expected,
            "reading": self.reading.to_dict(),
            "colour": self.colour,
            "shape": self.shape,
            "direction": self.direction,
            "background": self.background,
            "attributes": self.attributes,
            "all": self.all,
        }


def _nearest(colour: np.ndarray, palette: np.ndarray, names: list[str]) -> str:
    return names[int(np.argmin(np.linalg.norm(palette - colour, axis=1)))]


def foreground_mask(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shape's pixels and the background colour of one uint8 frame (H, W, 3).

    Returns:
        mask: bool (H, W); background: float32 (3,), the frame's median colour (0-255).
    """
    pixels = frame.astype(np.float32)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    mask = np.linalg.norm(pixels - background, axis=-1) > FOREGROUND_DISTANCE
    return mask, background


def shape_features(mask: np.ndarray) -> tuple[float, float]:
    """(fill ratio of the bounding box, share of the mask in the box's top half) of a non-empty bool (H, W) mask.

    The top half is measured with sub-pixel weights so odd box heights do not bias it.
    """
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    fill = float(ys.size) / float((y1 - y0) * (x1 - x0))
    middle = (y0 + y1) / 2.0
    # Weight of each row that lies above the middle line: 1, 0, or 0.5 for a row the line cuts through.
    row_top = np.clip(middle - ys, 0.0, 1.0)
    return fill, float(row_top.sum()) / float(ys.size)


def classify_shape(fill_ratio: float, top_share: float) -> str:
    """The nearest ``SHAPE_PROTOTYPES`` entry; the top share counts double (it separates triangles best)."""
    distances = {
        name: ((fill_ratio - f) ** 2 + (2.0 * (top_share - t)) ** 2) ** 0.5
        for name, (f, t) in SHAPE_PROTOTYPES.items()
    }
    return min(distances, key=distances.__getitem__)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected component of a bool (H, W) mask (stray speckles must not skew the features)."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    best_label, best_size, current = 0, 0, 0
    height, width = mask.shape
    for start_y, start_x in zip(*np.nonzero(mask), strict=True):
        if labels[start_y, start_x]:
            continue
        current += 1
        labels[start_y, start_x] = current
        stack, size = [(start_y, start_x)], 0
        while stack:
            y, x = stack.pop()
            size += 1
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not labels[ny, nx]:
                    labels[ny, nx] = current
                    stack.append((ny, nx))
        if size > best_size:
            best_label, best_size = current, size
    return labels == best_label if best_label else mask


def measure_frame(frame: np.ndarray) -> FrameMeasure:
    """Background, foreground size, colour, shape features and centroid of one uint8 frame (H, W, 3)."""
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"a frame must be (H, W, 3), got {frame.shape}")
    mask, background_colour = foreground_mask(frame)
    background = _nearest(background_colour, _BACKGROUND_PALETTE, list(BACKGROUNDS))
    if mask.sum() < MIN_FOREGROUND_PIXELS:
        return FrameMeasure(background, int(mask.sum()), None, None, None, None)
    mask = largest_component(mask)
    if mask.sum() < MIN_FOREGROUND_PIXELS:
        return FrameMeasure(background, int(mask.sum()), None, None, None, None)
    mean_colour = frame[mask].astype(np.float32).mean(axis=0)
    fill, top = shape_features(mask)
    ys, xs = np.nonzero(mask)
    return FrameMeasure(
        background=background,
        foreground_pixels=int(mask.sum()),
        colour=_nearest(mean_colour, _PALETTE, list(COLOURS)),
        fill_ratio=fill,
        top_share=top,
        centroid=(float(xs.mean()), float(ys.mean())),
    )


def classify_direction(displacement: tuple[float, float], size: int) -> str:
    """``left``/``right``/``up``/``down`` for the dominant axis of a (dx, dy) pixel displacement (y grows
    downwards), or ``static`` when it is shorter than ``MIN_DISPLACEMENT * size``."""
    dx, dy = displacement
    if (dx * dx + dy * dy) ** 0.5 < MIN_DISPLACEMENT * size:
        return STATIC
    scores = {name: dx * ux + dy * uy for name, (ux, uy) in DIRECTIONS.items()}
    return max(scores, key=scores.__getitem__)


def read_world_video(frames: np.ndarray) -> WorldReading:
    """Read colour, shape, direction and background from a uint8 video (F, H, W, 3)."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}")
    measures = [measure_frame(frame) for frame in frames]
    background = Counter(m.background for m in measures).most_common(1)[0][0]
    shown = [(t, m) for t, m in enumerate(measures) if m.colour is not None]
    if not shown:
        return WorldReading(NONE, NONE, NONE, background, None, None, None, 0)
    colour = Counter(m.colour for _, m in shown).most_common(1)[0][0]
    fill = float(np.median([m.fill_ratio for _, m in shown]))
    top = float(np.median([m.top_share for _, m in shown]))
    shape = classify_shape(fill, top)
    displacement: tuple[float, float] | None = None
    direction = STATIC
    if len(shown) >= 2:
        # Average the centroids of the first and last quarter of the frames that show the shape.
        k = max(1, len(shown) // 4)
        first = np.mean([m.centroid for _, m in shown[:k]], axis=0)
        last = np.mean([m.centroid for _, m in shown[-k:]], axis=0)
        displacement = (float(last[0] - first[0]), float(last[1] - first[1]))
        direction = classify_direction(displacement, max(frames.shape[1:3]))
    return WorldReading(colour, shape, direction, background, fill, top, displacement, len(shown))


def score_world_video(frames: np.ndarray, caption: str) -> WorldScore:
    """Read a video and compare it with a world caption; ``ValueError`` if the caption is not a world one."""
    expected = parse_caption(caption)
    if expected is None:
        raise ValueError(f"not a world caption: {caption!r}")
    reading = read_world_video(frames)
    return WorldScore(
        expected=expected,
        reading=reading,
        colour=reading.colour == expected["colour"],
        shape=reading.shape == expected["shape"],
        direction=reading.direction == expected["direction"],
        background=reading.background == expected["background"],
    )
