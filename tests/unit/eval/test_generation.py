import numpy as np
import pytest
import torch

from models.eval.generation import (
    GenerationSettings,
    Variant,
    decode,
    generate_latents,
    render_variant,
    upsample_latents,
)

PROMPT = "a yellow square moving down on a gray background"


def test_the_split_generation_is_exactly_the_pipelines_output(tiny_pipe) -> None:
    resolved = GenerationSettings(num_inference_steps=1, temporal_upsampling=1).resolve(tiny_pipe)
    expected = tiny_pipe(PROMPT, seed=5, num_inference_steps=1, temporal_upsampling=1).frames[0]
    latents = generate_latents(tiny_pipe, PROMPT, 5, resolved)
    assert latents.shape[2] == tiny_pipe.base_frames_for(resolved["num_frames"], 1)
    video = render_variant(tiny_pipe, latents, resolved, Variant("flow", "video"))[0]
    np.testing.assert_array_equal(video, expected)


def test_image_decoder_matches_the_freshly_inflated_video_decoder(tiny_pipe) -> None:
    # The tiny pipeline's temporal layers are untrained (identity), so both decoders must agree to rounding.
    latents = torch.randn(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    video, image = decode(tiny_pipe, latents, "video"), decode(tiny_pipe, latents, "image")
    assert video.shape == image.shape == (1, 3, 16, 16, 3) and video.dtype == np.uint8
    assert np.abs(video.astype(int) - image.astype(int)).max() <= 1


def test_blend_upsampling_averages_neighbours(tiny_pipe) -> None:
    latents = torch.randn(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    up = upsample_latents(tiny_pipe, latents, 2, "blend")
    assert up.shape[2] == 4 * (3 - 1) + 1
    torch.testing.assert_close(up[:, :, 2], 0.5 * (latents[:, :, 0] + latents[:, :, 1]))
    torch.testing.assert_close(up[:, :, ::4], latents)


def test_unknown_choices_are_rejected() -> None:
    with pytest.raises(ValueError, match="upsample mode"):
        Variant("linear", "video")
    with pytest.raises(ValueError, match="decoder"):
        Variant("flow", "vae")
