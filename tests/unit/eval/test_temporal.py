import numpy as np
import pytest
import torch

from models.eval.temporal import as_video_tensor, block_matching, mean_frame_difference, psnr, warping_error
from models.world import render, sample_scene


def world_clip(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return render(sample_scene(rng, 48, 8, combo=("red", "square", "right", "gray")), 48, 8)


def test_a_still_video_scores_zero() -> None:
    still = np.repeat(world_clip()[:1], 5, axis=0)
    assert warping_error(still) == 0.0
    assert mean_frame_difference(still) == 0.0


def test_block_matching_recovers_a_known_shift() -> None:
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, size=(1, 48, 48, 3), dtype=np.uint8)
    moved = np.roll(texture, shift=(2, -3), axis=(1, 2))  # content moves 3 px left and 2 px down
    video = as_video_tensor(np.concatenate([texture, moved]))
    flow, error = block_matching(video[:1], video[1:], radius=4)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    assert torch.all(flow[:, 0][inner] == -3) and torch.all(flow[:, 1][inner] == 2)
    assert float(error[inner].max()) == 0.0


def test_motion_is_explained_but_flicker_is_not() -> None:
    clip = world_clip()
    moving_warp, moving_diff = warping_error(clip), mean_frame_difference(clip)
    assert moving_warp < 0.5 * moving_diff  # the flow explains the motion
    rng = np.random.default_rng(1)
    brightness = rng.integers(-20, 21, size=(8, 1, 1, 1))  # per-frame global flicker
    flicker = np.clip(clip.astype(np.int16) + brightness, 0, 255).astype(np.uint8)
    assert warping_error(flicker) > moving_warp + 5.0


def test_psnr() -> None:
    clip = world_clip()
    assert psnr(clip, clip) == float("inf")
    shifted = np.clip(clip.astype(np.int16) + 10, 0, 255).astype(np.uint8)
    mse = float(((shifted.astype(np.float64) - clip) ** 2).mean())
    assert psnr(shifted, clip) == pytest.approx(10 * np.log10(255**2 / mse))
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(clip[:3], clip)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 2 frames"):
        warping_error(world_clip()[:1])
    with pytest.raises(ValueError, match="uint8"):
        mean_frame_difference(world_clip().astype(np.float64))
