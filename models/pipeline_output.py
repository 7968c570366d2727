"""The output of ``VideoGenPipeline``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import PIL.Image
import torch
from diffusers.utils import BaseOutput


@dataclass
class VideoGenPipelineOutput(BaseOutput):
    """
    Args:
        frames: the videos. ``output_type="np"``: uint8 (B, F, H, W, 3); ``"pt"``: float in [0, 1]
            (B, F, 3, H, W); ``"latent"``: the final scaled latents (B, C, F, h, w).
        reference_images: the reference image of each video (generated, or the caller's, resized).
        stage_latents: per-stage latents (``reference``, ``base``, ``super_resolution``, ``temporal_upsampling``)
            when ``return_stage_latents=True``, else None.
    """

    frames: np.ndarray | torch.Tensor
    reference_images: list[PIL.Image.Image]
    stage_latents: dict[str, torch.Tensor] | None = None


class GenerationInterrupted(RuntimeError):
    """Raised when ``pipeline.interrupt`` is set during generation (e.g. a cancelled job)."""
