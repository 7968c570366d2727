"""VideoGenPipeline end to end on the tiny preset: shapes, determinism, conditioning, round trip, progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler
from PIL import Image

from models import GenerationInterrupted, VideoGenPipeline
from models.loading import ModelFolderError, load_pipeline

PROMPT = "a red circle moving left on a black background"
FAST = {"num_inference_steps": 2, "guidance_scale": 3.0}


def clone(pipe: VideoGenPipeline, **config: object) -> VideoGenPipeline:
    """A new pipeline on the same components and settings (defaults included), with ``config`` changed."""
    settings = {k: v for k, v in pipe.config.items() if not k.startswith("_") and k not in pipe.components}
    return VideoGenPipeline(**pipe.components, **{**settings, **config})


@pytest.mark.parametrize(
    ("num_frames", "height", "width", "upsampling"),
    [(8, 32, 32, 1), (3, 16, 24, 0), (16, 24, 16, 3), (2, 8, 8, 1)],
)
def test_output_shapes(
    tiny_pipeline: VideoGenPipeline, num_frames: int, height: int, width: int, upsampling: int
):
    out = tiny_pipeline(
        PROMPT,
        num_frames=num_frames,
        height=height,
        width=width,
        temporal_upsampling=upsampling,
        seed=0,
        return_stage_latents=True,
        **FAST,
    )
    assert out.frames.shape == (1, num_frames, height, width, 3)
    assert out.frames.dtype == np.uint8
    assert out.reference_images[0].size == (width, height)
    base_frames = tiny_pipeline.base_frames_for(num_frames, upsampling)
    lat = out.stage_latents
    f = tiny_pipeline.vae_scale_factor
    assert lat["base"].shape == (1, 4, base_frames, height // f // 2, width // f // 2)
    assert lat["super_resolution"].shape == (1, 4, base_frames, height // f, width // f)
    assert lat["temporal_upsampling"].shape[2] == num_frames


def test_batched_prompts_give_one_video_each(tiny_pipeline: VideoGenPipeline) -> None:
    out = tiny_pipeline(
        [PROMPT, "a blue square moving up on a gray background"], num_frames=3, seed=0, **FAST
    )
    assert out.frames.shape[0] == 2 and len(out.reference_images) == 2
    assert not np.array_equal(out.frames[0], out.frames[1])


def test_same_seed_same_frames_other_seed_other_frames(tiny_pipeline: VideoGenPipeline) -> None:
    a = tiny_pipeline(PROMPT, seed=7, **FAST).frames
    b = tiny_pipeline(PROMPT, seed=7, **FAST).frames
    c = tiny_pipeline(PROMPT, seed=8, **FAST).frames
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_reference_image_conditions_the_video(tiny_pipeline: VideoGenPipeline) -> None:
    red = Image.new("RGB", (32, 32), (220, 40, 40))
    blue = Image.new("RGB", (32, 32), (40, 80, 220))
    with_red = tiny_pipeline(PROMPT, reference_image=red, seed=1, return_stage_latents=True, **FAST)
    with_blue = tiny_pipeline(PROMPT, reference_image=blue, seed=1, return_stage_latents=True, **FAST)
    # The caller's reference replaces the text-to-image stage...
    assert np.asarray(with_red.reference_images[0])[16, 16].tolist() == [220, 40, 40]
    # ...and the video stages see it: same seed and prompt, different reference -> different latents and frames.
    assert not torch.allclose(with_red.stage_latents["base"], with_blue.stage_latents["base"])
    assert not np.array_equal(with_red.frames, with_blue.frames)


def test_a_model_without_reference_conditioning_ignores_the_reference(
    tiny_pipeline: VideoGenPipeline,
) -> None:
    # The paper's ablation: stages trained with zeros in place of the reference latents see zeros at inference.
    pipe = clone(tiny_pipeline, reference_conditioning=False)
    red = Image.new("RGB", (32, 32), (220, 40, 40))
    blue = Image.new("RGB", (32, 32), (40, 80, 220))
    with_red = pipe(PROMPT, reference_image=red, seed=1, return_stage_latents=True, **FAST)
    with_blue = pipe(PROMPT, reference_image=blue, seed=1, return_stage_latents=True, **FAST)
    assert torch.equal(
        with_red.stage_latents["super_resolution"], with_blue.stage_latents["super_resolution"]
    )
    assert np.array_equal(with_red.frames, with_blue.frames)


def test_progress_reports_every_stage_in_order(tiny_pipeline: VideoGenPipeline) -> None:
    events: list[tuple[str, int, int]] = []
    tiny_pipeline(
        PROMPT, num_frames=8, temporal_upsampling=2, seed=0, callback=lambda *e: events.append(e), **FAST
    )
    stages = list(dict.fromkeys(stage for stage, _, _ in events))
    assert stages == ["reference", "base", "super_resolution", "temporal_upsampling", "decode"]
    for stage in stages:
        steps = [(s, n) for st, s, n in events if st == stage]
        assert steps[-1][0] == steps[-1][1]  # each stage reaches its total
        assert [s for s, _ in steps] == list(range(1, len(steps) + 1))


def test_super_resolution_takes_its_share_of_the_steps(tiny_pipeline: VideoGenPipeline) -> None:
    events: list[tuple[str, int, int]] = []
    half = clone(tiny_pipeline, sr_steps_ratio=0.5)
    out = half(PROMPT, num_frames=3, seed=0, num_inference_steps=4, callback=lambda *e: events.append(e))
    totals = {stage: total for stage, _, total in events}
    assert totals["base"] == 4 and totals["reference"] == 4 and totals["super_resolution"] == 2
    assert half.sr_steps_for(1) == 1
    full = tiny_pipeline(PROMPT, num_frames=3, seed=0, num_inference_steps=4)
    assert not np.array_equal(out.frames, full.frames)
    with pytest.raises(ValueError, match="sr_steps_ratio"):
        clone(tiny_pipeline, sr_steps_ratio=0.0)


def test_super_resolution_guidance_cap_runs_the_conditional_branch_only(
    tiny_pipeline: VideoGenPipeline,
) -> None:
    batches: list[int] = []
    capped = clone(tiny_pipeline, sr_guidance_scale=1.0)
    hook = capped.sr_unet.register_forward_pre_hook(lambda _m, args: batches.append(args[0].shape[0]))
    try:
        out = capped(PROMPT, num_frames=3, seed=0, num_inference_steps=2, guidance_scale=3.0)
    finally:
        hook.remove()
    assert batches == [1, 1]  # one prompt, no unconditional half
    guided = tiny_pipeline(PROMPT, num_frames=3, seed=0, num_inference_steps=2, guidance_scale=3.0)
    assert not np.array_equal(out.frames, guided.frames)
    # The cap never raises guidance: a request at or below it runs as it would uncapped.
    loose = clone(tiny_pipeline, sr_guidance_scale=5.0)
    same = loose(PROMPT, num_frames=3, seed=0, num_inference_steps=2, guidance_scale=3.0)
    np.testing.assert_array_equal(same.frames, guided.frames)
    assert capped.sr_guidance_for(0.5) == 0.5 and loose.sr_guidance_for(7.5) == 5.0
    with pytest.raises(ValueError, match="sr_guidance_scale"):
        clone(tiny_pipeline, sr_guidance_scale=float("nan"))


def test_interrupt_stops_within_a_step(tiny_pipeline: VideoGenPipeline) -> None:
    seen: list[str] = []

    def cancel_during_base(stage: str, step: int, total: int) -> None:
        seen.append(stage)
        if stage == "base":
            tiny_pipeline.interrupt = True

    with pytest.raises(GenerationInterrupted):
        tiny_pipeline(PROMPT, seed=0, callback=cancel_during_base, **FAST)
    assert seen.count("base") == 1 and "super_resolution" not in seen
    tiny_pipeline(PROMPT, seed=0, num_frames=2, **FAST)  # the flag resets on the next call


def test_flow_and_blend_upsampling_are_both_available(tiny_pipeline: VideoGenPipeline) -> None:
    kwargs = {"num_frames": 5, "temporal_upsampling": 2, "seed": 3, "output_type": "latent", **FAST}
    flow = tiny_pipeline(PROMPT, temporal_upsampling_mode="flow", **kwargs).frames
    blend = tiny_pipeline(PROMPT, temporal_upsampling_mode="blend", **kwargs).frames
    assert flow.shape == blend.shape == (1, 4, 5, 16, 16)
    # An untrained flow upsampler is the blend baseline by construction.
    torch.testing.assert_close(flow, blend, atol=1e-5, rtol=0)


def test_scheduler_is_chosen_by_config(tiny_pipeline: VideoGenPipeline) -> None:
    pipe = clone(tiny_pipeline)
    dpm = pipe(PROMPT, seed=0, output_type="latent", **FAST).frames
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    ddim = pipe(PROMPT, seed=0, output_type="latent", **FAST).frames
    assert dpm.shape == ddim.shape and not torch.allclose(dpm, ddim)


def test_save_and_load_round_trip_to_the_bit(tiny_pipeline: VideoGenPipeline, tmp_path: Path) -> None:
    tiny_pipeline.save_pretrained(tmp_path)
    assert (tmp_path / "base_unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert (tmp_path / "text_encoder" / "model.safetensors").is_file()
    loaded = load_pipeline(tmp_path)
    for name, module in tiny_pipeline.components.items():
        if isinstance(module, torch.nn.Module):
            for (k, a), (_, b) in zip(
                module.state_dict().items(), getattr(loaded, name).state_dict().items(), strict=True
            ):
                assert torch.equal(a, b), f"{name}.{k} differs after reload"
    public = lambda config: {k: v for k, v in config.items() if not k.startswith("_")}  # noqa: E731
    assert public(loaded.config) == public(tiny_pipeline.config)
    assert np.array_equal(tiny_pipeline(PROMPT, seed=5, **FAST).frames, loaded(PROMPT, seed=5, **FAST).frames)


def test_incomplete_model_folder_names_the_missing_file(
    tiny_pipeline: VideoGenPipeline, tmp_path: Path
) -> None:
    tiny_pipeline.save_pretrained(tmp_path)
    (tmp_path / "sr_unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(ModelFolderError, match=r"sr_unet/diffusion_pytorch_model\.safetensors is missing"):
        load_pipeline(tmp_path)
    with pytest.raises(ModelFolderError, match="does not exist"):
        load_pipeline(tmp_path / "nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": "  "}, "prompt must be a non-empty string"),
        ({"height": 30}, "height=30 must be a positive multiple of 8"),
        ({"width": 0}, "width=0 must be a positive multiple of 8"),
        ({"num_frames": 40, "temporal_upsampling": 0}, "needs 40 base frames; this model makes at most 16"),
        ({"num_frames": 0}, "num_frames=0"),
        ({"temporal_upsampling": 4}, "temporal_upsampling=4 must be 0..3"),
        ({"num_inference_steps": 0}, "num_inference_steps=0"),
        # DDIM with steps_offset=1 would index timestep 1000 of 1000: refused up front, not an IndexError.
        ({"num_inference_steps": 1000}, r"num_inference_steps=1000 must be 1..999"),
        ({"guidance_scale": float("nan")}, "guidance_scale=nan"),
        ({"temporal_upsampling_mode": "magic"}, "temporal_upsampling_mode='magic'"),
    ],
)
def test_bad_input_raises_a_clear_value_error(
    tiny_pipeline: VideoGenPipeline, kwargs: dict, message: str
) -> None:
    kwargs = {"prompt": PROMPT, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        tiny_pipeline(**kwargs)
