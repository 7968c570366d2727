"""Stable Diffusion inflation: a VideoGen pipeline's components built from a diffusers-layout SD folder.

What the SD folder gives, taken as it is: the text encoder, tokenizer, VAE, the 2D UNet (the reference model) and
the scheduler. What is inflated from it, in the way diffusers' ``UNetMotionModel.from_unet2d`` inflates
AnimateDiff:

- ``base_unet`` and ``sr_unet`` (``VideoUNet``): every spatial tensor of SD's ``UNet2DConditionModel`` copied
  into the ``UNet3DConditionModel`` inside; the temporal layers (``transformer_in``, the temporal convolutions and
  temporal attentions of every block) are residual with their output projections zero, so they are the identity;
  the conditioning input channels (reference latent, first-frame mask, and for super-resolution the upsampled
  low-resolution latents and noise level, see ``VideoUNet.conditioning_input``) get zero weights in ``conv_in``.
  On a video of identical frames each stage therefore predicts, frame by frame, exactly what SD predicts.
- ``video_decoder``: ``VideoDecoder.from_vae``, the VAE decoder with identity temporal layers.
- ``temporal_upsampler``: nothing in SD corresponds to it; seeded random weights, and the pipeline's default is
  no temporal upsampling until it is trained.

Every size comes from the SD folder's own configs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import diffusers
import torch
from diffusers import AutoencoderKL, SchedulerMixin, UNet2DConditionModel
from diffusers.models.resnet import TemporalConvLayer
from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel
from torch import nn
from transformers import CLIPTextModel, CLIPTokenizer

from models.flow_upsampler import FlowTemporalUpsampler
from models.unet_video import VideoUNet
from models.video_decoder import VideoDecoder

# component folder -> the class its config must name (``_class_name`` or transformers' ``architectures``)
SD_COMPONENTS: dict[str, str | None] = {
    "unet": "UNet2DConditionModel",
    "vae": "AutoencoderKL",
    "text_encoder": "CLIPTextModel",
    "tokenizer": None,
    "scheduler": None,
}
BLOCK_TYPES_3D = {
    "CrossAttnDownBlock2D": "CrossAttnDownBlock3D",
    "DownBlock2D": "DownBlock3D",
    "CrossAttnUpBlock2D": "CrossAttnUpBlock3D",
    "UpBlock2D": "UpBlock3D",
}
# UNet2DConditionModel options that UNet3DConditionModel has no counterpart for: they must hold these values.
UNET_2D_EXPECTED: dict[str, Any] = {
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "act_fn": "silu",
    "center_input_sample": False,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-5,
    "transformer_layers_per_block": 1,
    "only_cross_attention": False,
    "dual_cross_attention": False,
    "encoder_hid_dim": None,
    "class_embed_type": None,
    "addition_embed_type": None,
    "time_embedding_type": "positional",
    "time_embedding_dim": None,
    "time_cond_proj_dim": None,
    "timestep_post_act": None,
    "resnet_time_scale_shift": "default",
    "resnet_skip_time_act": False,
    "resnet_out_scale_factor": 1.0,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
    "cross_attention_norm": None,
    "attention_type": "default",
}
DEFAULT_TEMPORAL_ATTENTION_HEAD_DIM = 64
DEFAULT_UPSAMPLER_CHANNELS = 64


class StableDiffusionFolderError(ValueError):
    """The folder is not a diffusers-layout Stable Diffusion checkpoint VideoGen can inflate; the message says why."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise StableDiffusionFolderError(f"cannot read {path}: {exc}") from exc


def check_sd_folder(sd_dir: Path) -> None:
    """Raise ``StableDiffusionFolderError`` naming the first missing component or wrong architecture."""
    if not sd_dir.is_dir():
        raise StableDiffusionFolderError(f"Stable Diffusion folder {sd_dir} does not exist")
    for name, class_name in SD_COMPONENTS.items():
        folder = sd_dir / name
        if not folder.is_dir():
            raise StableDiffusionFolderError(
                f"{folder} is missing: a diffusers-layout Stable Diffusion folder has {', '.join(SD_COMPONENTS)}"
            )
        if name == "tokenizer":
            if not (folder / "vocab.json").is_file() and not (folder / "tokenizer.json").is_file():
                raise StableDiffusionFolderError(f"{folder / 'vocab.json'} is missing")
            continue
        config_path = folder / ("scheduler_config.json" if name == "scheduler" else "config.json")
        if not config_path.is_file():
            raise StableDiffusionFolderError(f"{config_path} is missing")
        config = _read_json(config_path)
        if name == "scheduler":
            found = config.get("_class_name", "")
            if not isinstance(getattr(diffusers, found, None), type):
                raise StableDiffusionFolderError(f"{config_path} names no diffusers scheduler ({found!r})")
            continue
        found = config.get("_class_name") or ",".join(config.get("architectures") or [])
        if found != class_name:
            raise StableDiffusionFolderError(
                f"{config_path}: {name} is {found or 'of no named class'}, not {class_name}"
            )


def check_inflatable(unet: UNet2DConditionModel) -> None:
    """Raise ``StableDiffusionFolderError`` if the 2D UNet has a part the 3D UNet cannot reproduce."""
    cfg = unet.config
    for key, expected in UNET_2D_EXPECTED.items():
        value = cfg.get(key, expected)
        if isinstance(value, (list, tuple)) and len(set(value)) == 1:
            value = value[0]
        if value != expected and not (isinstance(expected, float) and math.isclose(value, expected)):
            raise StableDiffusionFolderError(
                f"unet config {key}={value!r} is not supported for inflation (needs {expected!r})"
            )
    for key in ("down_block_types", "up_block_types"):
        for block in cfg[key]:
            if block not in BLOCK_TYPES_3D:
                raise StableDiffusionFolderError(
                    f"unet {key} has {block!r}; inflation supports {list(BLOCK_TYPES_3D)}"
                )
    if cfg.in_channels != cfg.out_channels:
        raise StableDiffusionFolderError(
            f"unet in_channels={cfg.in_channels} != out_channels={cfg.out_channels}"
        )
    if not isinstance(cfg.layers_per_block, int):
        raise StableDiffusionFolderError(
            f"unet layers_per_block={cfg.layers_per_block!r}: per-block values unsupported"
        )
    _attention_head_dim(unet)


def _attention_head_dim(unet: UNet2DConditionModel) -> int | tuple[int, ...]:
    """``VideoUNet``'s ``attention_head_dim`` that gives each attention layer SD's own heads.

    diffusers' 2D configs store the head *count* in ``attention_head_dim`` (or ``num_attention_heads``); the 3D
    UNet reads its value as the channels per head. So block ``i`` gets ``block_out_channels[i] // heads[i]``:
    SD 1.x (8 heads everywhere) gives (40, 80, 160, 160), SD 2.x (heads 5/10/20/20) 64 everywhere, returned as
    the single int (also when only blocks without attention differ). Raises ``StableDiffusionFolderError`` if a block's width is not a multiple of its heads.
    """
    cfg = unet.config
    heads = cfg.num_attention_heads or cfg.attention_head_dim
    n = len(cfg.block_out_channels)
    heads = list(heads) if isinstance(heads, (list, tuple)) else [heads] * n
    if len(heads) != n or any(
        not isinstance(h, int) or h <= 0 or c % h for c, h in zip(cfg.block_out_channels, heads, strict=False)
    ):
        raise StableDiffusionFolderError(
            f"unet attention heads {heads!r} do not divide block_out_channels {list(cfg.block_out_channels)}"
        )
    dims = tuple(c // h for c, h in zip(cfg.block_out_channels, heads, strict=True))
    # The blocks that have attention (up block j is block n - 1 - j; the mid block takes the last value): when
    # they agree, one int, the config every SD 2.x-shaped checkpoint inflated to before per-block values.
    with_attention = {n - 1} | {
        i
        for i in range(n)
        if "CrossAttn" in cfg.down_block_types[i] or "CrossAttn" in cfg.up_block_types[n - 1 - i]
    }
    used = {dims[i] for i in with_attention}
    return used.pop() if len(used) == 1 else dims


def zero_temporal_outputs(module: nn.Module) -> None:
    """Make every temporal layer the identity: zero the last projection of each residual temporal branch."""
    for layer in module.modules():
        if isinstance(layer, TransformerTemporalModel):
            nn.init.zeros_(layer.proj_out.weight)
            nn.init.zeros_(layer.proj_out.bias)
        elif isinstance(layer, TemporalConvLayer):
            last = layer.conv4[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)


def inflate_unet(unet: UNet2DConditionModel, low_res_conditioning: bool = False) -> VideoUNet:
    """A ``VideoUNet`` that, on identical frames with zero-weighted conditioning, predicts what ``unet`` does.

    Args:
        unet: Stable Diffusion's denoiser, in_channels == out_channels == the VAE's latent channels.
        low_res_conditioning: True for the super-resolution stage.
    """
    check_inflatable(unet)
    cfg = unet.config
    video = VideoUNet(
        latent_channels=cfg.in_channels,
        low_res_conditioning=low_res_conditioning,
        block_out_channels=tuple(cfg.block_out_channels),
        layers_per_block=cfg.layers_per_block,
        down_block_types=tuple(BLOCK_TYPES_3D[b] for b in cfg.down_block_types),
        up_block_types=tuple(BLOCK_TYPES_3D[b] for b in cfg.up_block_types),
        norm_num_groups=cfg.norm_num_groups,
        cross_attention_dim=cfg.cross_attention_dim,
        attention_head_dim=_attention_head_dim(unet),
    )
    target = video.unet.state_dict()
    source = unet.state_dict()
    loaded: dict[str, torch.Tensor] = {}
    for key, tensor in source.items():
        if key not in target:
            raise StableDiffusionFolderError(f"unet tensor {key} has no place in the inflated 3D UNet")
        want = target[key].shape
        if key == "conv_in.weight":
            # The noisy latents keep SD's filters; the conditioning channels after them start at zero.
            wide = torch.zeros(want, dtype=tensor.dtype)
            wide[:, : tensor.shape[1]] = tensor
            tensor = wide
        elif tensor.shape != want and tensor.numel() == math.prod(want):
            # Attention proj_in/proj_out: SD 1.x uses 1x1 convs (out, in, 1, 1), the 3D UNet linear (out, in).
            tensor = tensor.reshape(want)
        if tensor.shape != want:
            raise StableDiffusionFolderError(
                f"unet tensor {key} is {tuple(tensor.shape)}, expected {tuple(want)}"
            )
        loaded[key] = tensor
    spatial_missing = [
        k for k in target if k not in loaded and "temp_" not in k and "transformer_in" not in k
    ]
    if spatial_missing:
        raise StableDiffusionFolderError(
            f"the SD unet lacks {spatial_missing[0]} (and {len(spatial_missing) - 1} more)"
        )
    video.unet.load_state_dict(loaded, strict=False)
    zero_temporal_outputs(video.unet)
    video = video.to(unet.device) if unet.dtype == torch.float32 else video.to(unet.device, unet.dtype)
    return video.eval()


def pipeline_config_from_sd(unet: UNet2DConditionModel, vae: AutoencoderKL) -> dict[str, Any]:
    """VideoGenPipeline settings for an SD checkpoint: SD's native resolution, no temporal upsampling yet."""
    vae_factor = 2 ** (len(vae.config.block_out_channels) - 1)
    multiple = math.lcm(8, vae_factor * 2)
    side = max(multiple, unet.config.sample_size * vae_factor // multiple * multiple)
    return {
        "sr_scale_factor": 2,
        "default_height": side,
        "default_width": side,
        "default_num_frames": 16,
        "max_base_frames": 16,
        "default_num_inference_steps": 25,
        "default_guidance_scale": 7.5,
        "default_temporal_upsampling": 0,
    }


def components_from_sd(
    sd_dir: str | Path,
    temporal_attention_head_dim: int = DEFAULT_TEMPORAL_ATTENTION_HEAD_DIM,
    upsampler_channels: int = DEFAULT_UPSAMPLER_CHANNELS,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(components, pipeline_config)`` for ``VideoGenPipeline(**components, **pipeline_config)``.

    Args:
        sd_dir: a diffusers-layout Stable Diffusion folder (``unet/``, ``vae/``, ``text_encoder/``,
            ``tokenizer/``, ``scheduler/``).
        temporal_attention_head_dim: channels per head of the video decoder's temporal attention.
        upsampler_channels: width of the (untrained, seeded) flow temporal upsampler.
        seed: seeds the upsampler's random weights.
    """
    path = Path(sd_dir).expanduser()
    check_sd_folder(path)
    unet = UNet2DConditionModel.from_pretrained(path, subfolder="unet").eval()
    check_inflatable(unet)
    vae = AutoencoderKL.from_pretrained(path, subfolder="vae").eval()
    if vae.config.latent_channels != unet.config.in_channels:
        raise StableDiffusionFolderError(
            f"vae latent_channels={vae.config.latent_channels} != unet in_channels={unet.config.in_channels}"
        )
    text_encoder = CLIPTextModel.from_pretrained(path, subfolder="text_encoder").eval()
    tokenizer = CLIPTokenizer.from_pretrained(path, subfolder="tokenizer")
    scheduler_class = _read_json(path / "scheduler" / "scheduler_config.json")["_class_name"]
    scheduler: SchedulerMixin = getattr(diffusers, scheduler_class).from_pretrained(
        path, subfolder="scheduler"
    )
    torch.manual_seed(seed)
    components = {
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "reference_unet": unet,
        "reference_scheduler": scheduler,
        "base_unet": inflate_unet(unet, low_res_conditioning=False),
        "sr_unet": inflate_unet(unet, low_res_conditioning=True),
        # The video stages denoise with SD's scheduler too: the inflated UNets predict what SD's does.
        "scheduler": type(scheduler).from_config(scheduler.config),
        "temporal_upsampler": FlowTemporalUpsampler(
            latent_channels=vae.config.latent_channels, hidden_channels=upsampler_channels
        ).eval(),
        "video_decoder": VideoDecoder.from_vae(vae, temporal_attention_head_dim).eval(),
    }
    return components, pipeline_config_from_sd(unet, vae)
