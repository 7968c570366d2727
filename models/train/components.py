"""Where a training run's components come from, and how trained recipes become one pipeline folder.

A run's working directory holds one folder per recipe (``WORKDIR/vae``, ``WORKDIR/reference``, ...); a finished
recipe saves its EMA weights under ``WORKDIR/RECIPE/model`` with ``save_pretrained``. Later recipes read the frozen
parts they need from there; parts not trained yet come from the preset (seeded random weights) or from an
``init`` pipeline folder (e.g. a real Stable Diffusion converted with the pipeline's layout).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from diffusers import AutoencoderKL, UNet2DConditionModel

from models.flow_upsampler import FlowTemporalUpsampler
from models.pipeline_videogen import VideoGenPipeline
from models.presets import PRESETS, build_components
from models.unet_video import VideoUNet
from models.video_decoder import VideoDecoder

logger = logging.getLogger(__name__)

MODEL_SUBDIR = "model"
# recipe name (``videogen train NAME``) -> (pipeline component it trains, its class)
RECIPE_COMPONENTS: dict[str, tuple[str, type]] = {
    "vae": ("vae", AutoencoderKL),
    "reference": ("reference_unet", UNet2DConditionModel),
    "base": ("base_unet", VideoUNet),
    "sr": ("sr_unet", VideoUNet),
    "upsampler": ("temporal_upsampler", FlowTemporalUpsampler),
    "decoder": ("video_decoder", VideoDecoder),
    # the decoder's temporal stages fine-tuned for consistency on generated videos (models.train.consistency);
    # after "decoder", so that it is the video decoder a run assembles
    "consistency": ("video_decoder", VideoDecoder),
}
RECIPES = tuple(RECIPE_COMPONENTS)


def recipe_model_dir(workdir: Path, recipe: str) -> Path:
    return workdir / recipe / MODEL_SUBDIR


def load_components(
    preset: str,
    workdir: Path,
    seed: int = 0,
    init: Path | None = None,
    exclude: tuple[str, ...] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Components for training or assembling: ``(components, pipeline_config)``.

    Trained recipes found in ``workdir`` (except those named in ``exclude``) replace the preset's random ones
    (or ``init``'s, which are kept otherwise: a decoder trained into ``init`` survives). The video decoder is
    re-inflated from the VAE only when nothing trained it and it would not match the VAE: from a preset, or when
    ``workdir`` retrained the VAE; it then decodes exactly as the image decoder does.
    """
    if init is not None:
        pipe = VideoGenPipeline.from_pretrained(init)
        components = dict(pipe.components)
        config = {k: v for k, v in pipe.config.items() if not k.startswith("_") and k not in components}
    else:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
        components = build_components(preset, seed)
        config = dict(PRESETS[preset].pipeline)
    trained = []
    for recipe, (name, cls) in RECIPE_COMPONENTS.items():
        folder = recipe_model_dir(workdir, recipe)
        if recipe not in exclude and (folder / "config.json").is_file():
            components[name] = cls.from_pretrained(folder).eval()
            trained.append(recipe)
    decoder_trained = any(RECIPE_COMPONENTS[recipe][0] == "video_decoder" for recipe in trained)
    if not decoder_trained and (init is None or "vae" in trained):
        head_dim = PRESETS[preset].temporal_attention_head_dim if preset in PRESETS else 64
        components["video_decoder"] = VideoDecoder.from_vae(components["vae"], head_dim).eval()
    for module in components.values():
        if hasattr(module, "requires_grad_"):
            module.requires_grad_(False)
    logger.info("components: trained recipes %s from %s, the rest from %s", trained, workdir, init or preset)
    return components, config


def assemble(
    preset: str, workdir: Path, out: Path, seed: int = 0, init: Path | None = None, **config: Any
) -> VideoGenPipeline:
    """Build the pipeline from the trained recipes in ``workdir`` and save it (safetensors) to ``out``.

    ``config`` overrides the pipeline's own settings (e.g. ``default_guidance_scale``).
    """
    components, pipeline_config = load_components(preset, workdir, seed, init)
    pipe = VideoGenPipeline(**components, **{**pipeline_config, **config})
    out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out, safe_serialization=True)
    return pipe
