"""Named model configurations, built in code with random weights.

- ``tiny``: a few MB, for tests and smoke runs; needs no files.
- ``base``: the paper's scale (an SD-1.5-sized reference model, 256x256 output). Build it on the ``meta`` device
  to count parameters; real weights come from a folder via ``VideoGenPipeline.from_pretrained``.

Each preset is plain keyword arguments per component, so a reader sees every size in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers import AutoencoderKL, DDIMScheduler, DPMSolverMultistepScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from models.flow_upsampler import FlowTemporalUpsampler
from models.tokenizer import build_tokenizer
from models.unet_video import VideoUNet
from models.video_decoder import VideoDecoder


@dataclass(frozen=True)
class Preset:
    text_encoder: dict[str, Any]
    vae: dict[str, Any]
    reference_unet: dict[str, Any]
    video_unet: dict[str, Any]  # shared by the base and super-resolution stages
    temporal_upsampler: dict[str, Any]
    temporal_attention_head_dim: int
    # Re-draw the text encoder's token embeddings at this std (CLIP's init is 0.02). A model trained with the
    # text encoder frozen at its random init (the demo) needs words that the encoder keeps apart: at 0.02 the
    # position embeddings dominate and captions differing in one word embed almost alike.
    token_embedding_std: float | None = None
    scheduler: dict[str, Any] = field(default_factory=dict)
    pipeline: dict[str, Any] = field(default_factory=dict)  # VideoGenPipeline's own config


SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "prediction_type": "epsilon",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        text_encoder={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "projection_dim": 32,
        },
        vae={
            "block_out_channels": (16, 32),
            "down_block_types": ("DownEncoderBlock2D",) * 2,
            "up_block_types": ("UpDecoderBlock2D",) * 2,
            "latent_channels": 4,
            "layers_per_block": 1,
            "norm_num_groups": 8,
            "sample_size": 32,
        },
        reference_unet={
            "block_out_channels": (16, 32),
            "layers_per_block": 1,
            "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
            "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
            "cross_attention_dim": 32,
            "attention_head_dim": 4,
            "norm_num_groups": 8,
            "sample_size": 16,
        },
        video_unet={
            "block_out_channels": (16, 32),
            "layers_per_block": 1,
            "down_block_types": ("CrossAttnDownBlock3D", "DownBlock3D"),
            "up_block_types": ("UpBlock3D", "CrossAttnUpBlock3D"),
            "cross_attention_dim": 32,
            "attention_head_dim": 8,
            "norm_num_groups": 8,
        },
        temporal_upsampler={"hidden_channels": 16},
        temporal_attention_head_dim=8,
        pipeline={
            "default_height": 32,
            "default_width": 32,
            "default_num_frames": 8,
            "max_base_frames": 16,
            "default_num_inference_steps": 4,
            "default_guidance_scale": 3.0,
        },
    ),
    "base": Preset(
        # CLIP ViT-L/14 text tower, as in Stable Diffusion 1.5.
        text_encoder={
            "vocab_size": 49408,
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "max_position_embeddings": 77,
            "projection_dim": 768,
            "hidden_act": "quick_gelu",
        },
        vae={
            "block_out_channels": (128, 256, 512, 512),
            "down_block_types": ("DownEncoderBlock2D",) * 4,
            "up_block_types": ("UpDecoderBlock2D",) * 4,
            "latent_channels": 4,
            "layers_per_block": 2,
            "sample_size": 512,
        },
        reference_unet={"cross_attention_dim": 768, "attention_head_dim": 8, "sample_size": 64},
        video_unet={"cross_attention_dim": 768, "attention_head_dim": 64},
        temporal_upsampler={"hidden_channels": 128},
        temporal_attention_head_dim=64,
        pipeline={
            "default_height": 256,
            "default_width": 256,
            "default_num_frames": 16,
            "max_base_frames": 16,
        },
    ),
    # The demo model trained on the synthetic world (docs/training.md): 64x64, 16 frames on a CPU. A 3-block VAE
    # (spatial factor 4), a base stage of 5 frames at 8x8 latents (32 px), super-resolution x2 to 16x16 latents
    # and two flow doublings 5 -> 9 -> 17 frames (trimmed to 16). All diffusion stages predict x0.
    "demo": Preset(
        text_encoder={
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "projection_dim": 64,
        },
        vae={
            "block_out_channels": (16, 32, 32),
            "down_block_types": ("DownEncoderBlock2D",) * 3,
            "up_block_types": ("UpDecoderBlock2D",) * 3,
            "latent_channels": 4,
            "layers_per_block": 1,
            "norm_num_groups": 8,
            "sample_size": 64,
        },
        reference_unet={
            "block_out_channels": (32, 64, 64),
            "layers_per_block": 1,
            "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            "cross_attention_dim": 64,
            "attention_head_dim": 8,
            "norm_num_groups": 16,
            "sample_size": 16,
        },
        video_unet={
            # Text cross-attention only at the coarse level (and the mid block): cheap, and enough to steer motion.
            "block_out_channels": (32, 64),
            "layers_per_block": 1,
            "down_block_types": ("DownBlock3D", "CrossAttnDownBlock3D"),
            "up_block_types": ("CrossAttnUpBlock3D", "UpBlock3D"),
            "cross_attention_dim": 64,
            "attention_head_dim": 8,
            "norm_num_groups": 16,
        },
        temporal_upsampler={"hidden_channels": 32},
        temporal_attention_head_dim=16,
        token_embedding_std=1.0,
        scheduler={"prediction_type": "sample"},
        pipeline={
            "default_height": 64,
            "default_width": 64,
            "default_num_frames": 16,
            "max_base_frames": 8,
            "default_num_inference_steps": 10,
            "default_guidance_scale": 4.0,
            "default_temporal_upsampling": 2,
            # Super-resolution at half the steps and without classifier-free guidance: the same prompt accuracy
            # in `videogen eval` (docs/results.md).
            "sr_steps_ratio": 0.5,
            "sr_guidance_scale": 1.0,
        },
    ),
}


def build_components(
    preset: str = "tiny", seed: int = 0, device: str | torch.device | None = None
) -> dict[str, Any]:
    """Instantiate every component of ``VideoGenPipeline`` for a preset, with seeded random weights.

    Returns keyword arguments for ``VideoGenPipeline(**components)``. ``device="meta"`` builds the networks
    without allocating their weights (to count parameters of the large presets).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    p = PRESETS[preset]
    torch.manual_seed(seed)
    tokenizer: CLIPTokenizer = build_tokenizer()
    text_config = {"vocab_size": len(tokenizer), "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    with torch.device(device or "cpu"):
        text_encoder = CLIPTextModel(CLIPTextConfig(**{**text_config, **p.text_encoder}))
        if p.token_embedding_std is not None:
            with torch.no_grad():
                text_encoder.get_input_embeddings().weight.normal_(0.0, p.token_embedding_std)
        vae = AutoencoderKL(**p.vae)
        c = vae.config.latent_channels
        reference_unet = UNet2DConditionModel(in_channels=c, out_channels=c, **p.reference_unet)
        base_unet = VideoUNet(latent_channels=c, **p.video_unet)
        sr_unet = VideoUNet(latent_channels=c, low_res_conditioning=True, **p.video_unet)
        upsampler = FlowTemporalUpsampler(latent_channels=c, **p.temporal_upsampler)
        video_decoder = VideoDecoder.from_vae(vae, temporal_attention_head_dim=p.temporal_attention_head_dim)
    scheduler_config = {**SCHEDULER, **p.scheduler}
    return {
        "vae": vae.eval(),
        "text_encoder": text_encoder.eval(),
        "tokenizer": tokenizer,
        "reference_unet": reference_unet.eval(),
        "reference_scheduler": DDIMScheduler(**scheduler_config),
        "base_unet": base_unet.eval(),
        "sr_unet": sr_unet.eval(),
        "scheduler": DPMSolverMultistepScheduler.from_config(DDIMScheduler(**scheduler_config).config),
        "temporal_upsampler": upsampler.eval(),
        "video_decoder": video_decoder.eval(),
    }
