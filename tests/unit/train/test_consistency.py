"""models/train/consistency.py: the flow-warped consistency loss is zero for motion the flow explains and not for
flicker, the edge term charges smearing, and ``videogen train consistency`` trains only the temporal stages it is
asked to, into the stage that ``train assemble`` takes as the video decoder (tiny preset, 2 videos, 2 steps)."""

from __future__ import annotations

from pathlib import Path

import torch

from cli.main import main
from models.loading import load_pipeline
from models.train.components import assemble, load_components
from models.train.consistency import consistency_loss, flat_masks, warp_indices
from models.train.losses import edge_loss
from models.video_decoder import VideoDecoder


def moving_texture(frames: int = 5, size: int = 32) -> torch.Tensor:
    """(1, F, 3, H, W) in 0-255: a random 12x12 patch on a flat background, one pixel further right each frame."""
    patch = torch.rand(3, 12, 12, generator=torch.Generator().manual_seed(0)) * 255
    video = torch.full((1, frames, 3, size, size), 100.0)
    for t in range(frames):
        video[0, t, :, 10:22, 8 + t : 20 + t] = patch
    return video


def test_motion_the_flow_explains_costs_nothing_and_flicker_does() -> None:
    video = moving_texture()
    indices = warp_indices(video)
    assert float(consistency_loss(video, indices)) < 1e-4
    identity = torch.arange(32 * 32).expand_as(indices)
    assert float(consistency_loss(video, identity)) > 10  # unwarped, the motion shows
    flicker = video.clone()
    flicker[:, 1::2] += 20.0
    assert abs(float(consistency_loss(flicker, warp_indices(flicker))) - 20.0) < 1.0  # the offset


def test_the_cli_trains_the_chosen_temporal_stages_into_the_assembled_decoder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = (
        "train consistency --preset tiny --videos 2 --steps 2 --batch-size 2 --decoder-mixers 1 --threads 1"
    )
    assert main([*args.split(), "--workdir", str(run)]) == 0
    trained = VideoDecoder.from_pretrained(run / "consistency" / "model")
    start = load_components("tiny", run, exclude=("consistency",))[0]["video_decoder"]
    assert any(t.abs().sum() > 0 for t in trained.temporal_mixers[0].last_layers())
    assert all(not t.any() for m in trained.temporal_mixers[1:] for t in m.last_layers())
    spatial = {k: v for k, v in start.state_dict().items() if not k.startswith("temporal_mixers.")}
    for name, tensor in spatial.items():
        assert torch.equal(trained.state_dict()[name], tensor), name
    assemble("tiny", run, tmp_path / "out")
    assembled = load_pipeline(tmp_path / "out").video_decoder.state_dict()
    for name, tensor in trained.state_dict().items():
        assert torch.equal(assembled[name], tensor), name


def test_the_edge_mask_counts_flicker_on_flat_ground_and_not_at_edges() -> None:
    video = moving_texture()
    on_patch, on_ground = video.clone(), video + 20.0 * (torch.arange(5) % 2).view(1, 5, 1, 1, 1)
    for t in range(1, 5, 2):
        on_patch[0, t, :, 10:22, 8 + t : 20 + t] += 20.0
        on_ground[0, t, :, 10:22, 8 + t : 20 + t] -= 20.0  # the patch itself stays as it was
    for flicker, kept in ((on_patch, False), (on_ground, True)):
        indices = warp_indices(flicker)
        masked = float(consistency_loss(flicker, indices, flat_masks(flicker, indices, 30.0)))
        everywhere = float(consistency_loss(flicker, indices))
        assert everywhere > 1.0
        assert (masked > 0.5 * everywhere) if kept else (masked < 0.05 * everywhere)


def test_the_edge_term_charges_a_smeared_edge_and_not_a_brightness_offset() -> None:
    video = moving_texture().transpose(1, 2) / 127.5 - 1  # (1, 3, F, H, W), as the decoder returns
    smeared = torch.nn.functional.avg_pool3d(video, (1, 3, 3), stride=1, padding=(0, 1, 1))
    assert float(edge_loss(video + 0.2, video)) < 1e-6
    assert float(edge_loss(smeared, video)) > 0.05
