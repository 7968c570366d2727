"""Export specs: per-module dims derived from the deployment's pixel/prompt ranges, axes, sample inputs."""

from __future__ import annotations

import pytest
import torch

from export.specs import SPECS, Geometry, ShapeRanges


@pytest.fixture(scope="module")
def geometry(tiny_pipeline) -> Geometry:
    return Geometry.of(tiny_pipeline)


def test_geometry_of_the_tiny_preset(geometry: Geometry) -> None:
    assert geometry.latent_channels == 4
    assert geometry.vae_scale_factor == 2 and geometry.sr_scale_factor == 2
    assert (geometry.text_length, geometry.text_dim) == (77, 32)
    assert geometry.video_unet_multiple == 2 and geometry.reference_unet_multiple == 2


def test_dims_per_stage(geometry: Geometry) -> None:
    ranges = ShapeRanges(batch=(1, 2, 3), frames=(1, 12, 40), height=(32, 64, 128), width=(16, 64, 96))
    base = SPECS["base_unet"].dim_ranges(ranges, geometry)
    # Base stage at H / (vae 2 * sr 2); guidance doubles the batch; frames capped at max_base_frames (16).
    assert base == {"batch": (1, 4, 6), "height": (8, 16, 32), "width": (4, 16, 24), "frames": (1, 12, 16)}
    sr = SPECS["sr_unet"].dim_ranges(ranges, geometry)
    assert sr["height"] == (16, 32, 64) and sr["batch"] == (1, 4, 6)
    up = SPECS["temporal_upsampler"].dim_ranges(ranges, geometry)
    assert up["frames"] == (2, 12, 40) and up["batch"] == (1, 2, 3)  # pairs of frames; no guidance batch
    dec = SPECS["video_decoder"].dim_ranges(ranges, geometry)
    assert dec["frames"] == (1, 12, 16)  # decode_chunk_size
    assert SPECS["text_encoder"].dim_ranges(ranges, geometry) == {"batch": (1, 2, 3)}


def test_unet_sizes_round_down_to_the_traced_multiple(geometry: Geometry) -> None:
    ranges = ShapeRanges(height=(24, 40, 72), width=(24, 40, 72))
    base = SPECS["base_unet"].dim_ranges(ranges, geometry)
    assert base["height"] == (6, 10, 18)  # 24/4=6, 40/4=10, 72/4=18: all even already
    odd = ShapeRanges(height=(20, 44, 76), width=(20, 44, 76))
    assert SPECS["base_unet"].dim_ranges(odd, geometry)["height"] == (4, 10, 18)  # 5->4, 11->10, 19->18
    assert SPECS["temporal_upsampler"].dim_ranges(odd, geometry)["height"] == (10, 22, 38)


def test_profile_has_min_opt_max_per_input(geometry: Geometry) -> None:
    profile = SPECS["sr_unet"].profile(ShapeRanges(batch=(1, 1, 1), frames=(4, 8, 8)), geometry)
    assert list(profile) == SPECS["sr_unet"].input_names
    assert profile["noise_level"] == [[1], [2], [2]]
    assert profile["low_res_latents"][2] == [2, 4, 8, 256, 256]


def test_dynamic_axes(geometry: Geometry) -> None:
    axes = SPECS["video_decoder"].dynamic_axes()
    assert axes["latents"] == {0: "batch", 2: "frames", 3: "height", 4: "width"}
    assert axes["video"] == {0: "batch", 2: "frames", 3: "height_px", 4: "width_px"}
    assert SPECS["temporal_upsampler"].dynamic_axes()["upsampled"][2] == "frames_out"
    assert SPECS["text_encoder"].dynamic_axes() == {
        "input_ids": {0: "batch"},
        "last_hidden_state": {0: "batch"},
    }


def test_sample_inputs(geometry: Geometry) -> None:
    sizes = {"batch": 3, "frames": 5, "height": 6, "width": 8}
    feeds = SPECS["sr_unet"].sample_inputs(sizes, geometry, torch.Generator().manual_seed(0))
    assert feeds["sample"].shape == (3, 4, 5, 6, 8)
    assert feeds["encoder_hidden_states"].shape == (3, 77, 32)
    assert feeds["noise_level"].dtype == torch.float32
    assert ((feeds["timestep"] >= 0) & (feeds["timestep"] < 1000)).all()
    ids = SPECS["text_encoder"].sample_inputs({"batch": 2}, geometry)["input_ids"]
    assert ids.dtype == torch.int64 and ids.max() < geometry.vocab_size


def test_shape_ranges_are_checked() -> None:
    with pytest.raises(ValueError, match="height range 64:32:128"):
        ShapeRanges(height=(64, 32, 128))
    with pytest.raises(ValueError, match="batch"):
        ShapeRanges(batch=(0, 1, 1))


def test_default_ranges_follow_the_model(tiny_pipeline) -> None:
    ranges = ShapeRanges.defaults(tiny_pipeline)
    assert ranges.height == (16, 32, 64) and ranges.frames == (1, 8, 16)
