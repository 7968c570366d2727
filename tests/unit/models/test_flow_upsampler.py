import pytest
import torch

from models.flow_upsampler import FlowTemporalUpsampler, blend_upsample, interleave, warp


def blob(height: int, width: int, cx: float, cy: float, channels: int = 4) -> torch.Tensor:
    """A smooth Gaussian blob (1, C, H, W), different per channel so channels can't be confused."""
    ys = torch.arange(height, dtype=torch.float32)[:, None]
    xs = torch.arange(width, dtype=torch.float32)[None, :]
    g = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * 2.5**2))
    return torch.stack([g * (c + 1) for c in range(channels)])[None]


@pytest.mark.parametrize("frames", [2, 3, 5])
def test_each_application_doubles_the_frame_rate(frames: int) -> None:
    up = FlowTemporalUpsampler(latent_channels=4, hidden_channels=8)
    latents = torch.randn(2, 4, frames, 8, 12)
    out = up(latents)
    assert out.shape == (2, 4, 2 * frames - 1, 8, 12)
    # Original frames are kept at even indices.
    torch.testing.assert_close(out[:, :, ::2], latents)
    # Repeating gives 4x and 8x the frame rate.
    assert up(up(up(latents))).shape[2] == 8 * (frames - 1) + 1


def test_at_initialisation_it_equals_the_blend_baseline() -> None:
    torch.manual_seed(0)
    up = FlowTemporalUpsampler(latent_channels=4, hidden_channels=8)
    latents = torch.randn(1, 4, 4, 8, 8)
    torch.testing.assert_close(up(latents), blend_upsample(latents), rtol=0, atol=1e-6)


def test_true_flow_reproduces_a_known_translation() -> None:
    a = blob(16, 24, cx=8.0, cy=8.0)
    b = blob(16, 24, cx=12.0, cy=8.0)  # content moved +4 px in x
    middle_truth = blob(16, 24, cx=10.0, cy=8.0)
    up = FlowTemporalUpsampler(latent_channels=4, hidden_channels=8)
    flow = torch.zeros(1, 2, 16, 24)
    flow[:, 0] = 4.0
    with torch.no_grad():
        middle = up.interpolate(a, b, flow_ab=flow)
    # Away from the border (where padding repeats edge pixels) the middle frame is exact.
    torch.testing.assert_close(middle[..., 2:-2], middle_truth[..., 2:-2], rtol=0, atol=1e-5)
    # Plain blending of the same pair is visibly wrong: two half-bright blobs instead of one.
    assert (0.5 * (a + b) - middle_truth).abs().max() > 0.3


def test_warp_moves_content_by_the_flow() -> None:
    image = blob(12, 12, cx=5.0, cy=6.0)
    flow = torch.zeros(1, 2, 12, 12)
    flow[:, 1] = -2.0  # sample two pixels above: content moves down
    torch.testing.assert_close(
        warp(image, flow)[..., 2:, :], blob(12, 12, 5.0, 8.0)[..., 2:, :], atol=1e-5, rtol=0
    )


def test_interleave_orders_frames_and_middles() -> None:
    frames = torch.arange(3.0).reshape(1, 1, 3, 1, 1)
    middles = torch.tensor([0.5, 1.5]).reshape(1, 1, 2, 1, 1)
    assert interleave(frames, middles).flatten().tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
