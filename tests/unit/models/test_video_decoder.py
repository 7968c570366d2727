import torch
from diffusers import AutoencoderKL

from models.presets import PRESETS
from models.video_decoder import VideoDecoder


def tiny_vae() -> AutoencoderKL:
    torch.manual_seed(0)
    return AutoencoderKL(**PRESETS["tiny"].vae).eval()


def test_inflated_decoder_equals_the_image_decoder_frame_by_frame() -> None:
    vae = tiny_vae()
    decoder = VideoDecoder.from_vae(vae, temporal_attention_head_dim=8).eval()
    latents = torch.randn(2, 4, 5, 8, 6)  # (B, C, F, h, w), scaled latents
    with torch.no_grad():
        video = decoder(latents)
        per_frame = torch.stack(
            [vae.decode(latents[:, :, f] / vae.config.scaling_factor).sample for f in range(5)], dim=2
        )
    assert video.shape == (2, 3, 5, 16, 12)
    # Equal up to float32 rounding (frames are batched differently): the temporal layers add exact zeros.
    torch.testing.assert_close(video, per_frame, rtol=0, atol=1e-5)


def train_temporal_layers(decoder: VideoDecoder) -> None:
    """Stand-in for training: move every temporal parameter off its identity init."""
    with torch.no_grad():
        for p in decoder.temporal_parameters():
            p.add_(0.05 * torch.randn_like(p))


def edit_last_frame(latents: torch.Tensor) -> torch.Tensor:
    edited = latents.clone()
    edited[:, :, -1] += 1.0
    return edited


def test_temporal_layers_mix_frames_once_trained() -> None:
    decoder = VideoDecoder.from_vae(tiny_vae(), temporal_attention_head_dim=8).eval()
    latents = torch.randn(1, 4, 4, 8, 8)
    with torch.no_grad():
        before = decoder(latents)
        train_temporal_layers(decoder)
        after = decoder(latents)
        # Changing only frame 3 now changes the decoding of frame 0 too.
        after_edit = decoder(edit_last_frame(latents))
    assert not torch.allclose(before, after)
    assert (after_edit[:, :, 0] - after[:, :, 0]).abs().max() > 1e-4


def test_without_temporal_layers_each_frame_decodes_alone() -> None:
    decoder = VideoDecoder.from_vae(tiny_vae(), temporal_attention_head_dim=8).eval()
    latents = torch.randn(1, 4, 4, 8, 8)
    with torch.no_grad():
        inflated = decoder(latents)
        train_temporal_layers(decoder)
        spatial = decoder(latents, temporal=False)
        spatial_edited = decoder(edit_last_frame(latents), temporal=False)
    # The trained temporal layers are bypassed: the spatial layers alone, as before they were trained.
    torch.testing.assert_close(spatial, inflated, rtol=0, atol=1e-5)
    torch.testing.assert_close(spatial_edited[:, :, :3], spatial[:, :, :3], rtol=0, atol=0)


def test_frame_count_comes_from_the_tensor() -> None:
    decoder = VideoDecoder.from_vae(tiny_vae(), temporal_attention_head_dim=8).eval()
    with torch.no_grad():
        for frames in (1, 3, 7):
            assert decoder(torch.randn(1, 4, frames, 4, 4)).shape == (1, 3, frames, 8, 8)


def test_identity_temporal_stages_are_skipped_at_inference_and_the_output_is_unchanged() -> None:
    decoder = VideoDecoder.from_vae(tiny_vae(), temporal_attention_head_dim=8).eval()
    latents = torch.randn(1, 4, 5, 8, 8)
    with torch.no_grad():
        assert decoder.identity_mixers() == [True] * 3
        skipped = decoder(latents)
    # With gradients on every stage that trains runs (training must reach the zero layers): the same frames up to
    # float32 rounding (the stages' permutes hand the next convolution another memory layout).
    assert decoder.identity_mixers() == [False] * 3
    decoder.temporal_mixers[2].requires_grad_(
        False
    )  # a stage a run leaves untrained is skipped in training too
    assert decoder.identity_mixers() == [False, False, True]
    decoder.temporal_mixers[2].requires_grad_(True)
    torch.testing.assert_close(decoder(latents).detach(), skipped, rtol=0, atol=1e-5)
    with torch.no_grad():
        torch.nn.init.normal_(decoder.temporal_mixers[1].attention.proj_out.weight, std=0.05)
        assert decoder.identity_mixers() == [True, False, True]  # a trained stage runs
        assert not torch.allclose(decoder(latents), skipped)


def test_zero_temporal_layers_still_get_gradients_in_training() -> None:
    decoder = VideoDecoder.from_vae(tiny_vae(), temporal_attention_head_dim=8).train()
    decoder(torch.randn(1, 4, 3, 4, 4)).square().mean().backward()
    grad = decoder.temporal_mixers[-1].attention.proj_out.weight.grad
    assert grad is not None and grad.abs().sum() > 0
