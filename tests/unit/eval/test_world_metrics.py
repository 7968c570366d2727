import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.eval.world_metrics import (
    NONE,
    OTHER,
    STATIC,
    classify_shape,
    read_world_video,
    score_world_video,
    shape_features,
)
from models.world import BACKGROUNDS, CAPTION, COLOURS, DIRECTIONS, SHAPES, combinations, render, sample_scene

OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}


def rendered(size: int, frames: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for combo in combinations():
        scene = sample_scene(rng, size, frames, combo=combo)
        yield scene, render(scene, size, frames)


def degrade(clip: np.ndarray, blur: int, noise: float, seed: int) -> np.ndarray:
    """Box blur of radius ``blur`` and Gaussian noise of std ``noise`` (8-bit levels), like a soft decoder."""
    x = torch.from_numpy(clip.astype(np.float32)).permute(0, 3, 1, 2)
    if blur:
        x = F.avg_pool2d(F.pad(x, (blur,) * 4, mode="replicate"), 2 * blur + 1, stride=1)
    x = x + noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return x.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize(("size", "frames"), [(64, 16), (32, 8)])
def test_every_rendered_combination_reads_right(size: int, frames: int) -> None:
    wrong = []
    for scene, clip in rendered(size, frames):
        score = score_world_video(clip, scene.caption)
        if not score.all:
            wrong.append((scene.caption, score.reading))
    assert wrong == []  # all 144 colour-shape-direction-background combinations


def test_blurred_noisy_renders_still_read_right() -> None:
    wrong = []
    for i, (scene, clip) in enumerate(rendered(64, 16, seed=1)):
        if i % 6:
            continue
        score = score_world_video(degrade(clip, blur=1, noise=12.0, seed=i), scene.caption)
        if not score.all:
            wrong.append((scene.caption, score.reading))
    assert wrong == []


def test_every_wrong_attribute_in_the_caption_is_caught() -> None:
    rng = np.random.default_rng(2)
    scene = sample_scene(rng, 64, 16, combo=("cyan", "triangle", "left", "gray"))
    clip = render(scene, 64, 16)
    attrs = {"colour": "cyan", "shape": "triangle", "direction": "left", "background": "gray"}
    options = {"colour": COLOURS, "shape": SHAPES, "direction": DIRECTIONS, "background": BACKGROUNDS}
    for name, values in options.items():
        for value in values:
            score = score_world_video(clip, CAPTION.format(**{**attrs, name: value}))
            assert getattr(score, name) == (value == attrs[name]), (name, value)


def test_reversed_clip_reads_the_opposite_direction() -> None:
    for scene, clip in list(rendered(64, 16))[:24]:
        reading = read_world_video(clip[::-1].copy())
        assert reading.direction == OPPOSITE[scene.direction]


def test_a_still_shape_is_static_and_an_empty_video_shows_nothing() -> None:
    scene, clip = next(rendered(64, 16))
    still = np.repeat(clip[:1], 16, axis=0)
    reading = read_world_video(still)
    assert reading.direction == STATIC
    assert reading.colour == scene.colour and reading.shape == scene.shape
    assert not score_world_video(still, scene.caption).direction

    empty = np.full((8, 32, 32, 3), 128, dtype=np.uint8)
    empty[4:] = 64  # half the frames: a dark gray that is neither world background
    reading = read_world_video(empty[:5])  # 4 gray frames outvote 1 dark one
    assert (reading.colour, reading.shape, reading.direction) == (NONE, NONE, NONE)
    assert reading.background == "gray" and reading.frames_with_shape == 0
    assert read_world_video(empty[3:]).background == OTHER


def test_shape_features_of_ideal_masks() -> None:
    yy, xx = np.mgrid[0:101, 0:101] - 50.0
    circle = xx**2 + yy**2 <= 45**2
    square = (np.abs(xx) <= 40) & (np.abs(yy) <= 40)
    triangle = (yy >= -45) & (yy <= 45) & (np.abs(xx) <= (yy + 45) / 2)  # apex up, base at the bottom
    fill, skew, diagonal = shape_features(circle)
    assert fill == pytest.approx(np.pi / 4, abs=0.02) and skew == pytest.approx(0, abs=0.01)
    assert diagonal == pytest.approx(1.0, abs=0.02)
    fill, skew, diagonal = shape_features(square)
    assert fill == 1.0 and diagonal == pytest.approx(4 / 3, abs=0.02)
    fill, skew, _ = shape_features(triangle)
    assert fill == pytest.approx(0.5, abs=0.02) and skew == pytest.approx(-2 * np.sqrt(2) / 5, abs=0.02)
    assert [classify_shape(shape_features(m)) for m in (circle, square, triangle)] == list(SHAPES)


def test_bad_input_is_rejected() -> None:
    clip = np.zeros((4, 16, 16, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="not a world caption"):
        score_world_video(clip, "a cat on a sofa")
    with pytest.raises(ValueError, match="uint8"):
        read_world_video(clip.astype(np.float32))
