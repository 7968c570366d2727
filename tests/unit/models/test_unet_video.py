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


def test_one_head_size_per_block_sets_each_blocks_heads_and_reloads(tmp_path) -> None:
    # SD 1.x's pattern in small: the same 2 heads at 16 and 32 channels, i.e. 8 then 16 channels per head.
    config = {**PRESETS["tiny"].video_unet, "down_block_types": ("CrossAttnDownBlock3D",) * 2}
    config["up_block_types"] = ("CrossAttnUpBlock3D",) * 2
    unet = VideoUNet(latent_channels=4, **{**config, "attention_head_dim": (8, 16)}).eval()
    blocks = [*unet.unet.down_blocks, unet.unet.mid_block, *unet.unet.up_blocks]
    heads = [
        (
            b.attentions[0].transformer_blocks[0].attn2.heads,
            b.temp_attentions[0].transformer_blocks[0].attn1.heads,
        )
        for b in blocks
    ]
    assert heads == [(2, 2)] * 5  # down 16 / 8, down 32 / 16, mid 32 / 16, up 32 / 16, up 16 / 8
    with torch.no_grad():  # weights where UNet3D zero-initialises (conv_out), so the outputs are not all zero
        for p in unet.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.05)
    unet.save_pretrained(tmp_path / "u")
    again = VideoUNet.from_pretrained(tmp_path / "u").eval()
    assert list(again.config.attention_head_dim) == [8, 16]
    sample, text, ref = torch.randn(1, 4, 2, 8, 8), torch.randn(1, 5, 32), torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        expected = unet(sample, torch.tensor([9]), text, ref)
        torch.testing.assert_close(again(sample, torch.tensor([9]), text, ref), expected)
    assert expected.abs().max() > 1e-3


def test_equal_per_block_head_sizes_build_what_one_value_builds() -> None:
    # Saved configs hold one int; a tuple of that value must give the same modules and the same seeded weights.
    config = PRESETS["tiny"].video_unet
    torch.manual_seed(5)
    one = VideoUNet(latent_channels=4, **config).state_dict()
    torch.manual_seed(5)
    per_block = VideoUNet(latent_channels=4, **{**config, "attention_head_dim": (8, 8)}).state_dict()
    assert one.keys() == per_block.keys() and all(torch.equal(one[k], per_block[k]) for k in one)


@pytest.mark.parametrize(
    ("head_dims", "message"), [((8,), "one value per block"), ((8, 12), "cannot have 12 channels per head")]
)
def test_per_block_head_sizes_that_do_not_fit_are_refused(head_dims: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VideoUNet(latent_channels=4, **{**PRESETS["tiny"].video_unet, "attention_head_dim": head_dims})
