"""Inflating a Stable Diffusion folder: before video training, every inflated stage acts on each frame as SD does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel

from models.from_sd import StableDiffusionFolderError, components_from_sd, inflate_unet
from models.pipeline_videogen import VideoGenPipeline
from models.video_decoder import VideoDecoder


@pytest.fixture(scope="module")
def sd_dir(tiny_sd_dir: Path) -> Path:
    return tiny_sd_dir


@pytest.fixture(scope="module")
def sd_unet(sd_dir: Path) -> UNet2DConditionModel:
    return UNet2DConditionModel.from_pretrained(sd_dir, subfolder="unet").eval()


@pytest.fixture(scope="module")
def sd1_unet(tiny_sd1_dir: Path) -> UNet2DConditionModel:
    # SD 1.x's pattern: the same head count at every width, so channels per head differ per block.
    return UNet2DConditionModel.from_pretrained(tiny_sd1_dir, subfolder="unet").eval()


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("unet_fixture", ["sd_unet", "sd1_unet"], ids=["tiny", "sd1"])
@pytest.mark.parametrize("low_res", [False, True], ids=["base", "sr"])
def test_inflated_unet_on_identical_frames_equals_sd_per_frame(
    request: pytest.FixtureRequest, unet_fixture: str, low_res: bool
) -> None:
    sd_unet: UNet2DConditionModel = request.getfixturevalue(unet_fixture)
    video_unet = inflate_unet(sd_unet, low_res_conditioning=low_res)
    g = torch.Generator().manual_seed(1)
    batch, frames, c, h = 2, 3, 4, 16
    image = torch.randn(batch, c, h, h, generator=g)
    text = torch.randn(batch, 7, sd_unet.config.cross_attention_dim, generator=g)
    t = torch.tensor([10, 700])
    with torch.no_grad():
        expected = sd_unet(image, t, text).sample  # (B, C, H, W)
        video = image[:, :, None].expand(-1, -1, frames, -1, -1).contiguous()  # (B, C, F, H, W)
        extra = {}
        if low_res:
            extra = {"low_res_latents": torch.zeros_like(video), "noise_level": torch.zeros(batch)}
        got = video_unet(video, t, text, torch.zeros(batch, c, h, h), **extra)
        # The conditioning channels have zero weights: a non-zero reference changes nothing before training.
        got_ref = video_unet(video, t, text, torch.randn(batch, c, h, h, generator=g), **extra)
    assert got.shape == (batch, c, frames, h, h)
    for f in range(frames):
        assert relative_error(got[:, :, f], expected) <= 1e-4
        assert relative_error(got_ref[:, :, f], expected) <= 1e-4
    # Identity temporal layers only at init: they exist, and are trainable.
    temporal = [n for n, _ in video_unet.named_parameters() if "temp_" in n or "transformer_in" in n]
    assert temporal


def test_inflated_decoder_equals_vae_decode_per_frame(sd_dir: Path) -> None:
    vae = AutoencoderKL.from_pretrained(sd_dir, subfolder="vae").eval()
    components, _ = components_from_sd(sd_dir)
    decoder: VideoDecoder = components["video_decoder"]
    latents = torch.randn(
        1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(2)
    )  # scaled, (B, C, F, h, w)
    with torch.no_grad():
        got = decoder(latents)  # (B, 3, F, H, W)
        for f in range(3):
            expected = vae.decode(latents[:, :, f] / vae.config.scaling_factor).sample
            assert relative_error(got[:, :, f], expected) <= 1e-4


def test_components_are_sized_from_the_sd_folder_and_reload(sd_dir: Path, tmp_path: Path) -> None:
    pipe = VideoGenPipeline.from_stable_diffusion(sd_dir)
    unet_cfg = json.loads((sd_dir / "unet" / "config.json").read_text())
    assert list(pipe.base_unet.config.block_out_channels) == unet_cfg["block_out_channels"]
    assert pipe.base_unet.config.cross_attention_dim == unet_cfg["cross_attention_dim"]
    assert pipe.sr_unet.config.low_res_conditioning and not pipe.base_unet.config.low_res_conditioning
    assert pipe.config.default_height == unet_cfg["sample_size"] * 2  # the VAE's spatial factor is 2
    pipe.save_pretrained(tmp_path / "vg", safe_serialization=True)
    again = VideoGenPipeline.from_pretrained(tmp_path / "vg")
    for name in ("base_unet", "sr_unet", "video_decoder", "reference_unet"):
        a, b = getattr(pipe, name).state_dict(), getattr(again, name).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_folder_without_a_component_is_an_error_naming_it(sd_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "sd"
    broken.mkdir()
    for name in ("vae", "text_encoder", "tokenizer", "scheduler"):
        (broken / name).symlink_to(sd_dir / name)
    with pytest.raises(StableDiffusionFolderError, match="unet"):
        components_from_sd(broken)
    with pytest.raises(StableDiffusionFolderError, match="does not exist"):
        components_from_sd(tmp_path / "nowhere")


def test_a_unet_of_another_architecture_is_an_error_naming_it(sd_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "sd"
    broken.mkdir()
    for name in ("vae", "text_encoder", "tokenizer", "scheduler"):
        (broken / name).symlink_to(sd_dir / name)
    (broken / "unet").mkdir()
    config = json.loads((sd_dir / "unet" / "config.json").read_text())
    (broken / "unet" / "config.json").write_text(
        json.dumps({**config, "_class_name": "UNet3DConditionModel"})
    )
    with pytest.raises(StableDiffusionFolderError, match="UNet3DConditionModel, not UNet2DConditionModel"):
        components_from_sd(broken)


def test_a_unet_with_an_uninflatable_option_is_an_error(sd_unet: UNet2DConditionModel) -> None:
    unet = UNet2DConditionModel(**{**sd_unet.config, "class_embed_type": "timestep"})
    with pytest.raises(StableDiffusionFolderError, match="class_embed_type"):
        inflate_unet(unet)


def test_sd1_heads_give_each_block_its_own_head_size(sd1_unet: UNet2DConditionModel) -> None:
    # 2 heads at 16/32/32 channels (SD 1.5: 8 heads at 320/640/1280/1280): 8/16/16 channels per head.
    video_unet = inflate_unet(sd1_unet)
    assert list(video_unet.config.attention_head_dim) == [8, 16, 16]
    for video_block, sd_block in [
        *zip(video_unet.unet.down_blocks, sd1_unet.down_blocks, strict=True),
        (video_unet.unet.mid_block, sd1_unet.mid_block),
        *zip(video_unet.unet.up_blocks, sd1_unet.up_blocks, strict=True),
    ]:
        for video_attn, sd_attn in zip(
            getattr(video_block, "attentions", []), getattr(sd_block, "attentions", []), strict=True
        ):
            for a, b in zip(video_attn.transformer_blocks, sd_attn.transformer_blocks, strict=True):
                assert (a.attn1.heads, a.attn2.heads) == (b.attn1.heads, b.attn2.heads) == (2, 2)
        for temporal in getattr(video_block, "temp_attentions", []):
            assert temporal.transformer_blocks[0].attn1.heads == 2


def test_an_sd1_folder_inits_a_pipeline_that_reloads(tiny_sd1_dir: Path, tmp_path: Path) -> None:
    pipe = VideoGenPipeline.from_stable_diffusion(tiny_sd1_dir)
    assert list(pipe.sr_unet.config.attention_head_dim) == [8, 16, 16]
    pipe.save_pretrained(tmp_path / "vg", safe_serialization=True)
    again = VideoGenPipeline.from_pretrained(tmp_path / "vg")
    assert list(again.base_unet.config.attention_head_dim) == [8, 16, 16]
    g = torch.Generator().manual_seed(4)
    x, text, ref = (
        torch.randn(1, 4, 2, 8, 8, generator=g),
        torch.randn(1, 5, 32, generator=g),
        torch.zeros(1, 4, 8, 8),
    )
    with torch.no_grad():
        torch.testing.assert_close(
            again.base_unet(x, torch.tensor([50]), text, ref),
            pipe.base_unet(x, torch.tensor([50]), text, ref),
        )


def test_heads_that_do_not_divide_a_block_are_an_error(sd_unet: UNet2DConditionModel) -> None:
    config = {**sd_unet.config, "block_out_channels": [24, 32], "attention_head_dim": [5, 4]}
    with pytest.raises(StableDiffusionFolderError, match="do not divide"):
        inflate_unet(UNet2DConditionModel(**config))


def test_an_sd2_style_unet_with_linear_projections_and_per_block_heads_inflates_exactly() -> None:
    # SD 2.x: linear attention projections, heads listed per block at one size per head (here 8 channels).
    torch.manual_seed(3)
    unet = UNet2DConditionModel(
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=24,
        attention_head_dim=[2, 4],
        use_linear_projection=True,
        norm_num_groups=8,
    ).eval()
    with torch.no_grad():
        for p in unet.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.05)
    video_unet = inflate_unet(unet)
    x, text, t = torch.randn(2, 4, 8, 8), torch.randn(2, 5, 24), torch.tensor([3, 500])
    with torch.no_grad():
        expected = unet(x, t, text).sample
        got = video_unet(
            x[:, :, None].expand(-1, -1, 2, -1, -1).contiguous(), t, text, torch.zeros(2, 4, 8, 8)
        )
    for f in range(2):
        assert relative_error(got[:, :, f], expected) <= 1e-4
