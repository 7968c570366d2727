"""Trained stages become one pipeline folder that VideoGen and diffusers' Stable Diffusion both load."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

from models.loading import load_pipeline
from models.pipeline_videogen import VideoGenPipeline
from models.train.components import assemble, load_components, recipe_model_dir
from models.train.data import WorldClips
from models.train.recipes import RecipeOptions, build_recipe
from models.train.trainer import TrainConfig, Trainer


def test_assembled_folder_holds_the_trained_stage_and_loads_as_videogen_and_as_sd(tmp_path: Path) -> None:
    workdir = tmp_path / "run"
    components, config = load_components("tiny", workdir)
    recipe = build_recipe("upsampler", components, config, RecipeOptions())
    Trainer(
        recipe, WorldClips(recipe.clip, seed=0), workdir / "upsampler", TrainConfig(steps=2, batch_size=2)
    ).train()
    saved = type(recipe.module).from_pretrained(recipe_model_dir(workdir, "upsampler"))

    out = tmp_path / "pipe"
    assemble("tiny", workdir, out, default_guidance_scale=2.5)
    pipe = load_pipeline(out)
    assert pipe.config.default_guidance_scale == 2.5
    for name, value in saved.state_dict().items():
        assert torch.equal(pipe.temporal_upsampler.state_dict()[name], value), name
    # The untrained stages keep the preset's seeded init; the zero-initialised flow head moved.
    assert pipe.temporal_upsampler.flow_head[-1].weight.abs().sum() > 0

    sd = StableDiffusionPipeline.from_pretrained(
        out,
        unet=UNet2DConditionModel.from_pretrained(out, subfolder="reference_unet"),
        scheduler=DDIMScheduler.from_pretrained(out, subfolder="reference_scheduler"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    sd.set_progress_bar_config(disable=True)
    image = sd("a red circle", height=32, width=32, num_inference_steps=1, output_type="np").images
    assert image.shape == (1, 32, 32, 3)


def test_assemble_init_keeps_every_trained_stage_the_decoder_included(tmp_path: Path) -> None:
    """`train assemble --init` must not re-inflate a decoder (or reset any stage) that ``init`` brings trained."""
    components, config = load_components("tiny", tmp_path / "empty")
    generator = torch.Generator().manual_seed(0)
    for name in ("vae", "reference_unet", "base_unet", "sr_unet", "temporal_upsampler", "video_decoder"):
        with torch.no_grad():
            for param in components[name].parameters():
                param.add_(
                    0.01 * torch.randn(param.shape, generator=generator)
                )  # "trained": no zero layer left
    init = tmp_path / "init"
    VideoGenPipeline(**components, **config).save_pretrained(init, safe_serialization=True)

    out = tmp_path / "out"
    assemble("tiny", tmp_path / "run", out, init=init)
    pipe = load_pipeline(out)
    for name in ("vae", "reference_unet", "base_unet", "sr_unet", "temporal_upsampler", "video_decoder"):
        for key, value in components[name].state_dict().items():
            assert torch.equal(getattr(pipe, name).state_dict()[key], value), f"{name}.{key}"


def test_the_cli_offers_every_recipe_in_dependency_order() -> None:
    from cli.train import RECIPES as CLI_RECIPES
    from models.train.components import RECIPE_COMPONENTS, RECIPES

    assert CLI_RECIPES == RECIPES == tuple(RECIPE_COMPONENTS)
