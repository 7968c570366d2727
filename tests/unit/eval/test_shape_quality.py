import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.eval.shape_quality import background_flicker, shape_quality
from models.world import COLOURS, Scene, render


def blurred(clip: np.ndarray, radius: int) -> np.ndarray:
    x = torch.from_numpy(clip.astype(np.float32)).permute(0, 3, 1, 2)
    x = F.avg_pool2d(F.pad(x, (radius,) * 4, mode="replicate"), 2 * radius + 1, stride=1)
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def clip_of(
    shape: str, colour: str = "red", background: str = "gray", x: float = 20.0
) -> tuple[str, np.ndarray]:
    scene = Scene(colour, shape, "right", background, x=x, y=32.0, speed=1.5, radius=8.0)
    return scene.caption, render(scene, 64, 8)


@pytest.mark.parametrize("shape", ["circle", "square", "triangle"])
def test_a_render_is_crisp_and_blur_widens_its_edges(shape: str) -> None:
    caption, clip = clip_of(shape)
    clean, soft = shape_quality(clip, caption), shape_quality(blurred(clip, 1), caption)
    assert clean.frames == soft.frames == 8
    # An anti-aliased edge is at most one pixel wide; a 3x3 box blur adds about a pixel.
    assert clean.edge_width <= 1.0 and soft.edge_width > clean.edge_width + 0.6
    assert clean.interior_error == 0.0
    if shape == "square":
        assert clean.square_fill > 0.97 and soft.square_fill < clean.square_fill
    else:
        assert clean.square_fill is None


def test_dark_blotches_inside_a_shape_raise_the_interior_error() -> None:
    caption, clip = clip_of("square")
    blotched = clip.copy()
    centre = 20 + 1.5 * np.arange(8)
    for t, cx in enumerate(centre):
        c = int(cx)
        blotched[t, 30:34, c - 2 : c + 2] = (np.array(COLOURS["red"]) * 0.4).astype(np.uint8)
    assert shape_quality(blotched, caption).interior_error > 20.0
    assert shape_quality(clip, caption).interior_error == 0.0


def test_frames_whose_shape_leaves_the_picture_are_not_measured() -> None:
    caption, clip = clip_of("circle", x=6.0)  # starts across the left border, then moves in
    quality = shape_quality(clip, caption)
    assert 0 < quality.frames < 8


def test_background_flicker_is_zero_on_a_render_and_reads_added_noise() -> None:
    _, clip = clip_of("circle")
    assert background_flicker(clip) == 0.0
    rng = np.random.default_rng(0)
    noisy = np.clip(clip + rng.normal(0, 2.0, clip.shape), 0, 255).round().astype(np.uint8)
    # Independent noise of std 2 per frame: the difference has std 2 * sqrt(2), mean |.| = 2 * sqrt(2) * sqrt(2/pi).
    assert background_flicker(noisy) == pytest.approx(2 * np.sqrt(2) * np.sqrt(2 / np.pi), rel=0.05)
    # The moving shape itself is masked out: shifting it never counts as flicker.
    assert background_flicker(clip[::-1].copy()) == 0.0


def test_inputs_are_checked() -> None:
    _, clip = clip_of("circle")
    with pytest.raises(ValueError, match="world caption"):
        shape_quality(clip, "a cat")
    with pytest.raises(ValueError, match="F >= 2"):
        background_flicker(clip[:1])
