"""Does a video show its world caption? Colour, shape, background and direction measured from the pixels.

The measures follow how ``models.world.render`` draws a clip: one shape of a palette colour over a plain
background. Per frame:

- background: the nearest ``BACKGROUNDS`` colour to the frame's median colour (the shape covers a few percent of
  the frame, so the median is background), or ``other`` when the median is farther than
  ``BACKGROUND_TOLERANCE`` from both (a dark-gray or tinted background is neither black nor gray);
- foreground: pixels farther than ``FOREGROUND_DISTANCE`` (RGB, 0-255 units) from that median colour; every
  palette colour is at least 130 from either background, so the threshold sits near half of that;
- colour: the ``COLOURS`` entry that best explains the mean foreground colour as a mix of it with the background
  (``b + alpha (c - b)``, alpha in [0.25, 1]): anti-aliased and blurred edges are exactly such mixes, so a dim
  edge-heavy mean does not drift to a darker palette colour;
- shape: from moments of the foreground mask. Its vertical skewness: the world's triangles point up, so their
  mass sits low (-2*sqrt(2)/5 ~ -0.566; circles and squares 0). The ratio of its fourth moments along the
  diagonals to those along the axes: a square's corners make it 4/3, a circle's 1. Blur rounds every shape
  towards a circle, so the thresholds sit nearer the circle's values (measured on renders: clean and blurred
  squares >= 1.16, clean circles <= 1.10 even at 32x32 px). The fill ratio of the bounding box (circle
  pi/4 ~ 0.785, square 1.0, triangle 0.5) is reported too, but it is what blur moves most, so it does not vote;
- direction: the foreground centroid's displacement from the first to the last quarter of the frames.

Per video, colour and background are majority votes and the shape features per-feature medians over the frames
that show a shape, so a few bad frames do not flip the answer. ``tests/unit/eval`` checks that every rendered
ground-truth clip (64x64 and 32x32, clean, blurred and noisy) reads right.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from models.world import BACKGROUNDS, COLOURS, DIRECTIONS, parse_caption

FOREGROUND_DISTANCE = 60.0  # RGB distance (0-255) from the background colour that counts as shape
BACKGROUND_TOLERANCE = (
    40.0  # RGB distance (0-255) within which the median colour counts as a world background
)
MIN_FOREGROUND_PIXELS = 6  # fewer than this in a frame: no shape there
MIN_DISPLACEMENT = 0.05  # centroid travel below this fraction of the frame size: "static"

TRIANGLE_MAX_SKEW = -0.25  # vertical skewness below this: an upward triangle (ideal -0.566)
SQUARE_MIN_DIAGONAL = 1.13  # diagonal/axis fourth-moment ratio above this: a square (ideal 4/3, circle 1)
MIN_MIX = 0.25  # least share of the palette colour in the mean foreground colour (the rest is background)
STATIC = "static"
NONE = "none"  # no shape found
OTHER = "other"  # a background that is none of ``BACKGROUNDS``

_PALETTE = np.array(list(COLOURS.values()), dtype=np.float32)  # (K, 3)
_BACKGROUND_PALETTE = np.array(list(BACKGROUNDS.values()), dtype=np.float32)


@dataclass(frozen=True)
class FrameMeasure:
    """What one frame shows; ``None`` fields mean no shape was found in the frame."""

    background: str
    foreground_pixels: int
    colour: str | None
    shape_features: tuple[float, float, float] | None  # see ``shape_features``
    centroid: tuple[float, float] | None  # (x, y) in pixels


@dataclass(frozen=True)
class WorldReading:
    """The attributes one video shows, read from its pixels (``none``: no shape; ``static``: no motion)."""

    colour: str
    shape: str
    direction: str
    background: str
    shape_features: tuple[float, float, float] | None  # per-feature median over frames with a shape
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


def classify_colour(mean_colour: np.ndarray, background: np.ndarray) -> str:
    """The ``COLOURS`` name whose mix with ``background`` (share in [MIN_MIX, 1]) is nearest to ``mean_colour``
    (both RGB, 0-255)."""
    offsets = _PALETTE - background  # (K, 3)
    alpha = (offsets @ (mean_colour - background)) / np.maximum((offsets**2).sum(axis=1), 1e-6)
    alpha = np.clip(alpha, MIN_MIX, 1.0)[:, None]
    residual = np.linalg.norm(background + alpha * offsets - mean_colour, axis=1)
    return list(COLOURS)[int(np.argmin(residual))]


def foreground_mask(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shape's pixels and the background colour of one uint8 frame (H, W, 3).

    Returns:
        mask: bool (H, W); background: float32 (3,), the frame's median colour (0-255).
    """
    pixels = frame.astype(np.float32)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    mask = np.linalg.norm(pixels - background, axis=-1) > FOREGROUND_DISTANCE
    return mask, background


def shape_features(mask: np.ndarray) -> tuple[float, float, float]:
    """(fill ratio of the bounding box, vertical skewness, diagonal/axis fourth-moment ratio) of a non-empty bool
    (H, W) mask; y grows downwards, so a shape with its mass low has negative skewness."""
    ys, xs = np.nonzero(mask)
    fill = float(ys.size) / float((np.ptp(ys) + 1) * (np.ptp(xs) + 1))
    x, y = xs - xs.mean(), ys - ys.mean()
    var_y = float(np.mean(y * y))
    skew = float(np.mean(y**3)) / var_y**1.5 if var_y > 0 else 0.0
    u, v = (x + y) / np.sqrt(2.0), (x - y) / np.sqrt(2.0)
    axis = float(np.mean(x**4) + np.mean(y**4))
    diagonal = float(np.mean(u**4) + np.mean(v**4)) / axis if axis > 0 else 1.0
    return fill, skew, diagonal


def classify_shape(features: tuple[float, float, float]) -> str:
    """``circle``, ``square`` or ``triangle`` from ``shape_features`` (the fill ratio does not vote)."""
    _fill, skew, diagonal = features
    if skew < TRIANGLE_MAX_SKEW:
        return "triangle"
    return "square" if diagonal > SQUARE_MIN_DIAGONAL else "circle"


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
    distances = np.linalg.norm(_BACKGROUND_PALETTE - background_colour, axis=1)
    nearest = int(np.argmin(distances))
    background = list(BACKGROUNDS)[nearest] if distances[nearest] <= BACKGROUND_TOLERANCE else OTHER
    if mask.sum() < MIN_FOREGROUND_PIXELS:
        return FrameMeasure(background, int(mask.sum()), None, None, None)
    mask = largest_component(mask)
    if mask.sum() < MIN_FOREGROUND_PIXELS:
        return FrameMeasure(background, int(mask.sum()), None, None, None)
    mean_colour = frame[mask].astype(np.float32).mean(axis=0)
    ys, xs = np.nonzero(mask)
    return FrameMeasure(
        background=background,
        foreground_pixels=int(mask.sum()),
        colour=classify_colour(mean_colour, background_colour),
        shape_features=shape_features(mask),
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
        return WorldReading(NONE, NONE, NONE, background, None, None, 0)
    colour = Counter(m.colour for _, m in shown).most_common(1)[0][0]
    median = np.median([m.shape_features for _, m in shown], axis=0)
    features = (float(median[0]), float(median[1]), float(median[2]))
    shape = classify_shape(features)
    displacement: tuple[float, float] | None = None
    direction = STATIC
    if len(shown) >= 2:
        # Average the centroids of the first and last quarter of the frames that show the shape.
        k = max(1, len(shown) // 4)
        first = np.mean([m.centroid for _, m in shown[:k]], axis=0)
        last = np.mean([m.centroid for _, m in shown[-k:]], axis=0)
        displacement = (float(last[0] - first[0]), float(last[1] - first[1]))
        direction = classify_direction(displacement, max(frames.shape[1:3]))
    return WorldReading(colour, shape, direction, background, features, displacement, len(shown))


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
