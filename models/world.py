"""The synthetic world: captioned clips of one coloured shape moving over a plain background.

Every clip's caption is exactly ``"a {colour} {shape} moving {direction} on a {background} background"``. The
world is small enough that a tiny model learns it on a CPU, and structured enough to measure from pixels whether a
video follows its prompt (colour, shape, direction).

Unlabeled clips may be *textured* (``Scene.texture``): a static gradient-and-ripple background and stripes that
move with the shape. Captions never name textures (the caption vocabulary is unchanged and every captioned stage
trains on plain clips); they give the video decoder, which trains on unlabeled video, detail to keep steady.

Held-out combinations (``HELD_OUT``) are colour-shape-direction triples that training never sees, chosen so that
every pair of their attributes *is* seen: a model that gets them right has composed attributes it learned apart.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 210, 40),
    "cyan": (40, 210, 220),
    "magenta": (210, 50, 200),
}
SHAPES = ("circle", "square", "triangle")
DIRECTIONS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {"black": (0, 0, 0), "gray": (128, 128, 128)}

# One triple per colour; shapes and directions rotate so each appears in at most two held-out triples.
HELD_OUT: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("red", "triangle", "up"),
        ("green", "circle", "left"),
        ("blue", "square", "down"),
        ("yellow", "triangle", "right"),
        ("cyan", "circle", "down"),
        ("magenta", "square", "left"),
    }
)

CAPTION = "a {colour} {shape} moving {direction} on a {background} background"
CLIP_FRAMES = 17  # the longest clip training renders (the demo's base stage: 5 frames, 4 apart)
_CAPTION_RE = re.compile(
    r"^a (?P<colour>\w+) (?P<shape>\w+) moving (?P<direction>\w+) on a (?P<background>\w+) background$"
)


@dataclass(frozen=True)
class Scene:
    """One clip's attributes; positions and speed in pixels (of a ``size`` x ``size`` frame)."""

    colour: str
    shape: str
    direction: str
    background: str
    x: float
    y: float
    speed: float
    radius: float
    texture: int | None = None  # seed of the background and shape textures; None: plain (captioned clips)

    @property
    def caption(self) -> str:
        return CAPTION.format(**asdict(self))

    @property
    def held_out(self) -> bool:
        return (self.colour, self.shape, self.direction) in HELD_OUT


def parse_caption(caption: str) -> dict[str, str] | None:
    """The attributes named by a world caption, or None when it is not one."""
    match = _CAPTION_RE.match(caption.strip().lower())
    if match is None:
        return None
    attrs = match.groupdict()
    known = (
        attrs["colour"] in COLOURS
        and attrs["shape"] in SHAPES
        and attrs["direction"] in DIRECTIONS
        and attrs["background"] in BACKGROUNDS
    )
    return attrs if known else None


def combinations(held_out: bool | None = None) -> list[tuple[str, str, str, str]]:
    """All (colour, shape, direction, background); ``held_out`` True/False keeps only held-out/seen triples."""
    combos = itertools.product(COLOURS, SHAPES, DIRECTIONS, BACKGROUNDS)
    return [c for c in combos if held_out is None or ((c[0], c[1], c[2]) in HELD_OUT) == held_out]


def sample_scene(
    rng: np.random.Generator,
    size: int,
    num_frames: int,
    combo: tuple[str, str, str, str] | None = None,
    held_out: bool | None = False,
    textured: bool = False,
) -> Scene:
    """A random scene; its shape stays fully inside the frame for ``num_frames`` frames.

    ``textured`` draws one more number, the texture's seed, after the rest: the plain scenes a generator yields
    are the same whether or not some are textured.
    """
    if combo is None:
        pool = combinations(held_out)
        combo = pool[rng.integers(len(pool))]
    colour, shape, direction, background = combo
    radius = size * rng.uniform(0.11, 0.15)
    speed = size * rng.uniform(0.013, 0.019)  # pixels per frame: up to ~1/3 of the frame in 17 frames
    # The start is drawn from the same central box whatever the direction (with room to travel either way on
    # both axes), so the first frame says nothing about where the shape goes: only the caption does. The box is
    # the same for every clip length up to ``CLIP_FRAMES`` (a reference image is a 1-frame clip), so single
    # frames and first frames of clips share one distribution.
    lo, hi = radius + 1, size - radius - 1
    margin = min(speed * (max(num_frames, CLIP_FRAMES) - 1), (hi - lo) / 2)
    x, y = rng.uniform(lo + margin, hi - margin, size=2)
    texture = int(rng.integers(2**31)) if textured else None
    return Scene(colour, shape, direction, background, float(x), float(y), speed, radius, texture)


def _mask(shape: str, size: int, cx: float, cy: float, r: float, supersample: int = 4) -> np.ndarray:
    """Anti-aliased coverage (size, size) in [0, 1] of one shape centred at (cx, cy)."""
    n = size * supersample
    coords = (np.arange(n) + 0.5) / supersample
    ys, xs = np.meshgrid(coords, coords, indexing="ij")
    u, v = xs - cx, ys - cy
    if shape == "circle":
        inside = u**2 + v**2 <= r**2
    elif shape == "square":
        half = r * 0.85
        inside = (np.abs(u) <= half) & (np.abs(v) <= half)
    elif shape == "triangle":
        # Upward-pointing isosceles triangle inscribed in the radius-r box.
        top, bottom = -r, r * 0.8
        half_width = r * (v - top) / (bottom - top)
        inside = (v >= top) & (v <= bottom) & (np.abs(u) <= half_width)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))


def _background_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A static offset field (size, size, 1) in 8-bit levels: a linear gradient and two soft ripples."""
    ys, xs = np.meshgrid(np.arange(size) / size - 0.5, np.arange(size) / size - 0.5, indexing="ij")
    angle = rng.uniform(0, 2 * np.pi)
    field = rng.uniform(30, 60) * (xs * np.cos(angle) + ys * np.sin(angle))
    for _ in range(2):
        angle, cycles, phase = rng.uniform(0, 2 * np.pi), rng.uniform(1.5, 4), rng.uniform(0, 2 * np.pi)
        along = xs * np.cos(angle) + ys * np.sin(angle)
        field += rng.uniform(8, 20) * np.sin(2 * np.pi * cycles * along + phase)
    return field[..., None].astype(np.float32)


def _stripes(rng: np.random.Generator, r: float) -> tuple[float, float, float, float]:
    """(angle, period in pixels, phase, contrast) of the stripes a textured shape carries with it."""
    return rng.uniform(0, np.pi), r * rng.uniform(0.5, 1.0), rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.35)


def render(scene: Scene, size: int, num_frames: int) -> np.ndarray:
    """Render a clip: uint8 (F, size, size, 3)."""
    background = np.broadcast_to(np.array(BACKGROUNDS[scene.background], np.float32), (size, size, 3))
    colour = np.broadcast_to(np.array(COLOURS[scene.colour], np.float32), (size, size, 3))
    stripes = None
    if scene.texture is not None:
        rng = np.random.default_rng(scene.texture)
        field = _background_texture(rng, size)
        background = background + field - min(0.0, float(background.min() + field.min()))  # none clipped off
        stripes = _stripes(rng, scene.radius)
    dx, dy = DIRECTIONS[scene.direction]
    ys, xs = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        cx, cy = scene.x + dx * scene.speed * t, scene.y + dy * scene.speed * t
        alpha = _mask(scene.shape, size, cx, cy, scene.radius)[..., None]
        fill = colour
        if stripes is not None:  # stripes fixed to the shape: they move with it
            angle, period, phase, contrast = stripes
            along = (xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)
            fill = colour * (1 + contrast * np.sin(2 * np.pi * along / period + phase))[..., None]
        frames[t] = np.round(np.clip(alpha * fill + (1 - alpha) * background, 0, 255)).astype(np.uint8)
    return frames
