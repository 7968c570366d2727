import pytest
import torch

from models.presets import PRESETS
from models.unet_video import VideoUNet, noise_augment


@pytest.fixture(scope="module")
def base_unet() -> VideoUNet:
    torch.manual_seed(0)
    return VideoUNet(latent_channels=4, **PRESETS["tiny"].video_unet).eval()


@pytest.fixture(scope="module")
def sr_unet() -> VideoUNet:
    torch.manual_seed(0)
    return VideoUNet(latent_channels=4, low_res_conditioning=True, **PRESETS["tiny"].video_unet).eval()


@pytest.mark.parametrize(("frames", "height", "width"), [(1, 8, 8), (5, 8, 12), (8, 16, 16)])
def test_output_shape_matches_sample(base_unet: VideoUNet, frames: int, height: int, width: int) -> None:
    sample = torch.randn(2, 4, frames, height, width)
    with torch.no_grad():
        out = base_unet(
            sample, torch.tensor([10, 500]), torch.randn(2, 77, 32), torch.randn(2, 4, height, width)
        )
    assert out.shape == sample.shape


def test_reference_latent_changes_the_prediction(base_unet: VideoUNet) -> None:
    # A fresh UNet3D zero-initialises its output conv; give it weights so the input matters.
    torch.manual_seed(1)
    unet = VideoUNet(latent_channels=4, **PRESETS["tiny"].video_unet).eval()
    for p in unet.parameters():
        if p.abs().sum() == 0:
            p.data.normal_(0, 0.02)
    sample, text = torch.randn(1, 4, 3, 8, 8), torch.randn(1, 77, 32)
    with torch.no_grad():
        a = unet(sample, torch.tensor([100]), text, torch.randn(1, 4, 8, 8))
        b = unet(sample, torch.tensor([100]), text, torch.randn(1, 4, 8, 8))
    assert (a - b).abs().max() > 1e-4


def test_super_resolution_stage_needs_its_low_res_conditioning(sr_unet: VideoUNet) -> None:
    sample = torch.randn(1, 4, 2, 8, 8)
    with pytest.raises(ValueError, match="low_res_latents"):
        sr_unet(sample, torch.tensor([1]), torch.randn(1, 77, 32), torch.randn(1, 4, 8, 8))
    cond = sr_unet.conditioning_input(
        sample, torch.randn(1, 4, 8, 8), torch.randn(1, 4, 2, 8, 8), torch.tensor([250])
    )
    assert cond.shape == (1, 4 * 3 + 2, 2, 8, 8)
    assert torch.all(cond[:, -1] == 0.25)  # noise level channel: timestep / 1000
    assert cond[:, 8, 0].eq(1).all() and cond[:, 8, 1:].eq(0).all()  # first-frame mask


def test_noise_augment_matches_the_forward_process() -> None:
    alphas = torch.linspace(0.99, 0.01, 1000)
    x, n = torch.ones(2, 3), torch.full((2, 3), 2.0)
    out = noise_augment(x, n, alphas, 999)
    torch.testing.assert_close(out, 0.1 * x + (0.99**0.5) * n)
