"""Turning a pipeline's latents into the videos evaluation scores, with the choices the ablations vary.

A generation is split where the paper's ablations differ: ``generate_latents`` runs the cascade once and keeps
the super-resolution stage's latents (before temporal upsampling); ``render_variant`` then upsamples them in time
(``flow`` or ``blend``) and decodes (``video`` decoder or the per-frame ``image`` decoder). Every variant of one
sample therefore starts from the same denoised latents, which isolates the stage being compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from models.flow_upsampler import blend_upsample
from models.pipeline_videogen import VideoGenPipeline

UPSAMPLE_MODES = ("flow", "blend")
# ``spatial``: the video decoder with its temporal stages skipped (its own spatial layers, frame by frame).
DECODER_TITLES = {
    "video": "video decoder",
    "image": "image decoder",
    "spatial": "video decoder without its temporal layers",
}
DECODERS = tuple(DECODER_TITLES)


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling arguments of the pipeline; ``None`` takes the model's default (``generation_defaults``)."""

    num_frames: int | None = None
    height: int | None = None
    width: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    temporal_upsampling: int | None = None

    def resolve(self, pipe: VideoGenPipeline) -> dict[str, Any]:
        """Every argument filled in from the model's defaults."""
        defaults = pipe.generation_defaults()
        given = {k: getattr(self, k) for k in defaults}
        return {k: defaults[k] if v is None else v for k, v in given.items()}


@dataclass(frozen=True)
class Variant:
    """How base latents become pixels: temporal upsampling mode and decoder."""

    upsample_mode: str = "flow"
    decoder: str = "video"

    def __post_init__(self) -> None:
        if self.upsample_mode not in UPSAMPLE_MODES:
            raise ValueError(f"upsample mode {self.upsample_mode!r} must be one of {UPSAMPLE_MODES}")
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder {self.decoder!r} must be one of {DECODERS}")

    @property
    def name(self) -> str:
        return f"{self.upsample_mode} upsampling, {DECODER_TITLES[self.decoder]}"


def generate_latents(
    pipe: VideoGenPipeline, prompt: str, seed: int, resolved: dict[str, Any], **call_kwargs: Any
) -> torch.Tensor:
    """Run the cascade for one prompt and seed: the super-resolution latents (1, C, F_base, h, w).

    The pipeline is called without temporal upsampling for the base frame count the full setting needs, which
    draws the same noise in the same order as the full call: these are exactly the latents the full call
    upsamples. ``resolved`` is ``GenerationSettings.resolve(pipe)``; ``call_kwargs`` go to the pipeline (e.g. a
    reference image).
    """
    out = pipe(
        prompt,
        seed=seed,
        num_frames=pipe.base_frames_for(resolved["num_frames"], resolved["temporal_upsampling"]),
        height=resolved["height"],
        width=resolved["width"],
        num_inference_steps=resolved["num_inference_steps"],
        guidance_scale=resolved["guidance_scale"],
        temporal_upsampling=0,
        output_type="latent",
        **call_kwargs,
    )
    return out.frames


@torch.no_grad()
def upsample_latents(pipe: VideoGenPipeline, latents: torch.Tensor, times: int, mode: str) -> torch.Tensor:
    """``times`` frame-rate doublings of latents (B, C, F, h, w) -> (B, C, 2^times (F-1) + 1, h, w)."""
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"upsample mode {mode!r} must be one of {UPSAMPLE_MODES}")
    for _ in range(times):
        if mode == "flow":
            latents = pipe.temporal_upsampler(latents.to(pipe.temporal_upsampler.dtype))
        else:
            latents = blend_upsample(latents)
    return latents


@torch.no_grad()
def decode_per_frame(pipe: VideoGenPipeline, latents: torch.Tensor) -> torch.Tensor:
    """The image-decoder baseline: ``pipe.vae.decode`` on every frame alone. Latents (B, C, F, h, w), scaled;
    returns pixels in [0, 1], (B, F, 3, H, W), like ``pipe.decode_latents``."""
    b, c, f, h, w = latents.shape
    folded = latents.transpose(1, 2).reshape(b * f, c, h, w).to(pipe.vae.dtype)
    chunk = pipe.config.decode_chunk_size
    parts = [
        pipe.vae.decode(folded[i : i + chunk] / pipe.vae.config.scaling_factor).sample.float()
        for i in range(0, b * f, chunk)
    ]
    pixels = torch.cat(parts).reshape(b, f, 3, *parts[0].shape[-2:])
    return ((pixels + 1.0) / 2.0).clamp(0, 1)


@torch.no_grad()
def decode(pipe: VideoGenPipeline, latents: torch.Tensor, decoder: str) -> np.ndarray:
    """Latents (B, C, F, h, w) -> uint8 videos (B, F, H, W, 3) with the ``video`` decoder, the per-frame ``image``
    decoder, or the video decoder's ``spatial`` layers alone."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder {decoder!r} must be one of {DECODERS}")
    if decoder == "video":
        video = pipe.decode_latents(latents)
    elif decoder == "image":
        video = decode_per_frame(pipe, latents)
    else:
        pixels = pipe.video_decoder(latents.to(pipe.video_decoder.dtype), temporal=False).float()
        video = ((pixels + 1.0) / 2.0).clamp(0, 1).transpose(1, 2)
    return (video.permute(0, 1, 3, 4, 2) * 255.0).round().to(torch.uint8).cpu().numpy()


def render_variant(
    pipe: VideoGenPipeline, base_latents: torch.Tensor, resolved: dict[str, Any], variant: Variant
) -> np.ndarray:
    """Super-resolution latents (B, C, F_base, h, w) -> uint8 videos (B, num_frames, H, W, 3) under a variant."""
    latents = upsample_latents(pipe, base_latents, resolved["temporal_upsampling"], variant.upsample_mode)
    return decode(pipe, latents[:, :, : resolved["num_frames"]], variant.decoder)
