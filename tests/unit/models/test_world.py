"""The synthetic world: a clip's first frame must not give its direction away, and shapes stay in the frame."""

from __future__ import annotations

import numpy as np
import pytest

from models.world import BACKGROUNDS, CLIP_FRAMES, DIRECTIONS, render, sample_scene


def start_box(direction: str, num_frames: int, size: int = 64, n: int = 3000) -> np.ndarray:
    """(min x, max x, min y, max y) of the start positions of ``n`` scenes."""
    rng = np.random.default_rng(0)
    combo = ("red", "circle", direction, "black")
    scenes = [sample_scene(rng, size, num_frames, combo=combo) for _ in range(n)]
    xs, ys = np.array([s.x for s in scenes]), np.array([s.y for s in scenes])
    return np.array([xs.min(), xs.max(), ys.min(), ys.max()])


def test_start_positions_do_not_depend_on_direction_or_clip_length() -> None:
    # A reference image is a 1-frame clip; the video stages see first frames of 17-frame clips: same box.
    boxes = [start_box(d, f) for d in DIRECTIONS for f in (1, 5, CLIP_FRAMES)]
    for box in boxes[1:]:
        np.testing.assert_allclose(box, boxes[0], atol=1.5)
    # ... and the box is central: a shape never starts hugging an edge.
    x_min, x_max, y_min, y_max = boxes[0]
    assert 16 < x_min < x_max < 48 and 16 < y_min < y_max < 48


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("direction", sorted(DIRECTIONS))
def test_the_shape_stays_inside_the_frame_and_moves_its_way(size: int, direction: str) -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        scene = sample_scene(rng, size, CLIP_FRAMES, combo=("yellow", "square", direction, "gray"))
        clip = render(scene, size, CLIP_FRAMES).astype(int)
        border = np.concatenate([clip[:, 0], clip[:, -1], clip[:, :, 0], clip[:, :, -1]], axis=1)
        assert (border == BACKGROUNDS["gray"]).all()
        ys, xs = np.nonzero((clip[0] != BACKGROUNDS["gray"]).any(-1))
        ye, xe = np.nonzero((clip[-1] != BACKGROUNDS["gray"]).any(-1))
        dx, dy = xe.mean() - xs.mean(), ye.mean() - ys.mean()
        assert np.sign(np.round([dx, dy], 1)).tolist() == list(DIRECTIONS[direction])


def test_textured_scenes_keep_the_plain_ones_and_their_captions() -> None:
    plain = [sample_scene(np.random.default_rng(5), 32, 9)]
    textured = sample_scene(np.random.default_rng(5), 32, 9, textured=True)
    assert textured.texture is not None and plain[0].texture is None
    assert textured.caption == plain[0].caption and textured.x == plain[0].x  # one more draw, after the rest
    clip = render(textured, 32, 9).astype(int)
    flat = render(plain[0], 32, 9).astype(int)
    background = np.abs(flat - flat[0, 0, 0]).sum(axis=-1) == 0  # plain: one colour off the shape
    assert clip[0][background[0]].std() > 5  # textured: the background varies in space...
    still = background.all(axis=0)
    assert np.array_equal(clip[0][still], clip[-1][still])  # ...and not in time
