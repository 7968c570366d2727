"""bench/decoder_consistency.py: the flow-warped consistency loss is zero for motion the flow explains and not for
flicker, and a trial trains only the temporal stages it is asked to (tiny preset, 2 videos, 2 steps)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

from models.loading import build_pipeline
from models.video_decoder import VideoDecoder


@pytest.fixture(scope="module")
def trial(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("decoder_consistency")


def moving_texture(frames: int = 5, size: int = 32) -> torch.Tensor:
    """(1, F, 3, H, W) in 0-255: a random 12x12 patch on a flat background, one pixel further right each frame."""
    patch = torch.rand(3, 12, 12, generator=torch.Generator().manual_seed(0)) * 255
    video = torch.full((1, frames, 3, size, size), 100.0)
    for t in range(frames):
        video[0, t, :, 10:22, 8 + t : 20 + t] = patch
    return video


def test_motion_the_flow_explains_costs_nothing_and_flicker_does(trial: ModuleType) -> None:
    video = moving_texture()
    indices = trial.warp_indices(video)
    assert float(trial.consistency_loss(video, indices)) < 1e-4
    identity = torch.arange(32 * 32).expand_as(indices)
    assert float(trial.consistency_loss(video, identity)) > 10  # unwarped, the motion shows
    flicker = video.clone()
    flicker[:, 1::2] += 20.0
    assert abs(float(trial.consistency_loss(flicker, trial.warp_indices(flicker))) - 20.0) < 1.0  # the offset


def test_a_trial_trains_the_chosen_temporal_stages_and_saves_a_loadable_decoder(
    trial: ModuleType, tmp_path: Path
) -> None:
    args = ["--model", "tiny", "--videos", "2", "--steps", "2", "--weights", "1", "--mixers", "1"]
    assert trial.main([*args, "--batch-size", "2", "--threads", "1", "--out", str(tmp_path)]) == 0
    trained = VideoDecoder.from_pretrained(tmp_path / "w1")
    shipped = build_pipeline("tiny").video_decoder
    assert any(t.abs().sum() > 0 for t in trained.temporal_mixers[0].last_layers())
    assert all(not t.any() for m in trained.temporal_mixers[1:] for t in m.last_layers())
    spatial = {k: v for k, v in shipped.state_dict().items() if not k.startswith("temporal_mixers.")}
    for name, tensor in spatial.items():
        assert torch.equal(trained.state_dict()[name], tensor), name


def test_the_edge_mask_counts_flicker_on_flat_ground_and_not_at_edges(trial: ModuleType) -> None:
    video = moving_texture()
    on_patch, on_ground = video.clone(), video + 20.0 * (torch.arange(5) % 2).view(1, 5, 1, 1, 1)
    for t in range(1, 5, 2):
        on_patch[0, t, :, 10:22, 8 + t : 20 + t] += 20.0
        on_ground[0, t, :, 10:22, 8 + t : 20 + t] -= 20.0  # the patch itself stays as it was
    for flicker, kept in ((on_patch, False), (on_ground, True)):
        indices = trial.warp_indices(flicker)
        masked = float(trial.consistency_loss(flicker, indices, trial.flat_masks(flicker, indices, 30.0)))
        everywhere = float(trial.consistency_loss(flicker, indices))
        assert everywhere > 1.0
        assert (masked > 0.5 * everywhere) if kept else (masked < 0.05 * everywhere)
