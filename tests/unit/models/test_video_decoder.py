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


def test_temporal_layers_mix_frames_once_trained() -> None:
    decoder = VideoDecoder.from_vae(tiny_vae(), temporal_attention_head_dim=8).eval()
    latents = torch.randn(1, 4, 4, 8, 8)
    with torch.no_grad():
        before = decoder(latents)
        for p in decoder.temporal_parameters():
            p.add_(0.05 * torch.randn_like(p))
        after = decoder(latents)
        # Changing only frame 3 now changes the decoding of frame 0 too.
        edited = latents.clone()
        edited[:, :, 3] += 1.0
        after_edit = decoder(edited)
    assert not torch.allclose(before, after)
    assert (after_edit[:, :, 0] - after[:, :, 0]).abs().max() > 1e-4


def test_frame_count_comes_from_the_tensor() -> None:
    decoder = VideoDecoder.from_vae(tiny_vae(), temporal_attention_head_dim=8).eval()
    with torch.no_grad():
        for frames in (1, 3, 7):
            assert decoder(torch.randn(1, 4, frames, 4, 4)).shape == (1, 3, frames, 8, 8)
