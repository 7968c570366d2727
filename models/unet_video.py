"""The reference-guided video denoiser used by both cascade stages (base and spatial super-resolution).

A diffusers ``UNet3DConditionModel`` (spatial and temporal convolution, spatial and temporal attention, text
cross-attention) whose input channels are the noisy latent video followed by its conditioning:

    [noisy latents (C) | reference latent, repeated over frames (C) | first-frame mask (1)
     | upsampled low-resolution latents (C, super-resolution stage only) | noise-augmentation level (1, ditto)]

The reference latent is the VideoGen paper's central idea: the video model starts from a high-quality image
(the first frame in training, a text-to-image sample at inference) and only has to learn how it moves. The
first-frame mask tells the network which frame the reference is. The cascade's noise-augmentation level
enters as a constant channel because ``UNet3DConditionModel`` has no class embedding; that keeps the graph free
of Python-side branching, so it exports to ONNX as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from diffusers import UNet3DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel
from torch import nn

NOISE_LEVEL_SCALE = 1000.0  # noise_level is a scheduler timestep; the channel carries timestep / 1000


class VideoUNet(ModelMixin, ConfigMixin):
    """Reference- and text-conditioned 3D UNet denoiser.

    Args:
        latent_channels: channels of the VAE latent (4 for Stable Diffusion).
        low_res_conditioning: True for the super-resolution stage (adds the upsampled base latents and the
            noise-augmentation level as inputs).
        block_out_channels, layers_per_block, down_block_types, up_block_types, norm_num_groups,
        cross_attention_dim: passed to ``UNet3DConditionModel``.
        attention_head_dim: channels per attention head, one value for every block (an int, as
            ``UNet3DConditionModel`` takes it) or one per block (Stable Diffusion 1.x keeps 8 heads at every
            width: 40/80/160/160 channels per head); the mid block takes the last block's value and
            ``transformer_in`` 8 heads of the first block's. Each block's spatial and temporal attention use it.
    """

    @register_to_config
    def __init__(
        self,
        latent_channels: int = 4,
        low_res_conditioning: bool = False,
        block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280),
        layers_per_block: int = 2,
        down_block_types: tuple[str, ...] = (
            "CrossAttnDownBlock3D",
            "CrossAttnDownBlock3D",
            "CrossAttnDownBlock3D",
            "DownBlock3D",
        ),
        up_block_types: tuple[str, ...] = (
            "UpBlock3D",
            "CrossAttnUpBlock3D",
            "CrossAttnUpBlock3D",
            "CrossAttnUpBlock3D",
        ),
        norm_num_groups: int = 32,
        cross_attention_dim: int = 768,
        attention_head_dim: int | Sequence[int] = 64,
    ) -> None:
        super().__init__()
        in_channels = 2 * latent_channels + 1
        if low_res_conditioning:
            in_channels += latent_channels + 1
        head_dims = per_block_head_dims(attention_head_dim, block_out_channels)
        self.unet = UNet3DConditionModel(
            in_channels=in_channels,
            out_channels=latent_channels,
            down_block_types=tuple(down_block_types),
            up_block_types=tuple(up_block_types),
            block_out_channels=tuple(block_out_channels),
            layers_per_block=layers_per_block,
            norm_num_groups=norm_num_groups,
            cross_attention_dim=cross_attention_dim,
            attention_head_dim=head_dims[0],
        )
        set_block_head_dims(self.unet, head_dims)

    def conditioning_input(
        self,
        sample: torch.Tensor,
        reference_latents: torch.Tensor,
        low_res_latents: torch.Tensor | None = None,
        noise_level: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Stack the noisy latents and their conditioning along channels: (B, C_in, F, H, W)."""
        batch, _, frames, height, width = sample.shape
        reference = reference_latents[:, :, None].expand(-1, -1, frames, -1, -1)  # (B, C, F, H, W)
        is_first = torch.arange(frames, device=sample.device) == 0
        first_frame = (
            is_first.to(sample.dtype).reshape(1, 1, frames, 1, 1).expand(batch, 1, -1, height, width)
        )
        parts = [sample, reference, first_frame]
        if self.config.low_res_conditioning:
            if low_res_latents is None or noise_level is None:
                raise ValueError("the super-resolution stage needs low_res_latents and noise_level")
            level = noise_level.to(sample.device, sample.dtype).reshape(-1, 1, 1, 1, 1) / NOISE_LEVEL_SCALE
            parts += [low_res_latents, level.expand(batch, 1, frames, height, width)]
        return torch.cat(parts, dim=1)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        reference_latents: torch.Tensor,
        low_res_latents: torch.Tensor | None = None,
        noise_level: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict the scheduler's target (noise, v or x0, per its ``prediction_type``).

        Args:
            sample: noisy latents (B, C, F, H, W).
            timestep: diffusion timestep, (B,) or a scalar tensor.
            encoder_hidden_states: text embeddings (B, L, D).
            reference_latents: scaled VAE latent of the reference image (B, C, H, W).
            low_res_latents: base-stage latents upsampled to (B, C, F, H, W); super-resolution only.
            noise_level: noise-augmentation timestep applied to ``low_res_latents`` (B,); super-resolution only.

        Returns:
            (B, C, F, H, W).
        """
        model_input = self.conditioning_input(sample, reference_latents, low_res_latents, noise_level)
        return self.unet(model_input, timestep, encoder_hidden_states, return_dict=False)[0]


def per_block_head_dims(
    attention_head_dim: int | Sequence[int], block_out_channels: Sequence[int]
) -> list[int]:
    """One channels-per-head value per block.

    A single int is taken as ``UNet3DConditionModel`` takes it (unchecked, as always); per-block values must
    be one per block and divide their block's channels, else ``ValueError``.
    """
    if isinstance(attention_head_dim, int):
        return [attention_head_dim] * len(block_out_channels)
    dims = [int(d) for d in attention_head_dim]
    if len(dims) != len(block_out_channels):
        raise ValueError(f"attention_head_dim {dims} needs one value per block of {list(block_out_channels)}")
    for channels, dim in zip(block_out_channels, dims, strict=True):
        if dim <= 0 or channels % dim:
            raise ValueError(f"a block of {channels} channels cannot have {dim} channels per head")
    return dims


def _rebuild_attention(parent: nn.ModuleList, head_dim: int) -> None:
    """Replace each ``Transformer2DModel`` / ``TransformerTemporalModel`` in ``parent`` by one with ``head_dim``
    channels per head: the same config otherwise, so the same parameter shapes (heads * head_dim = channels)."""
    for i, layer in enumerate(parent):
        if not isinstance(layer, (Transformer2DModel, TransformerTemporalModel)):
            continue
        channels = layer.config.in_channels
        # Not ``from_config``: diffusers marks the positionally passed head arguments as defaults and drops them.
        config = {k: v for k, v in layer.config.items() if not k.startswith("_")}
        config.update(num_attention_heads=channels // head_dim, attention_head_dim=head_dim)
        parent[i] = type(layer)(**config)


def set_block_head_dims(unet: UNet3DConditionModel, head_dims: Sequence[int]) -> None:
    """Give block ``i`` of ``unet`` ``head_dims[i]`` channels per head (the mid block the last value).

    ``UNet3DConditionModel`` itself takes one value for all blocks (a tuple breaks its ``transformer_in``), so it
    is built with ``head_dims[0]`` and the attention layers of the blocks that differ are rebuilt here. A no-op
    when every value is ``head_dims[0]``, so single-value configs build exactly the modules (and draw exactly
    the random numbers) they always did.
    """
    n = len(unet.down_blocks)
    blocks = [(block, head_dims[i]) for i, block in enumerate(unet.down_blocks)]
    blocks.append((unet.mid_block, head_dims[-1]))
    blocks += [(block, head_dims[n - 1 - i]) for i, block in enumerate(unet.up_blocks)]
    for block, head_dim in blocks:
        if head_dim == head_dims[0]:
            continue
        for name in ("attentions", "temp_attentions"):
            layers = getattr(block, name, None)
            if layers is not None:
                _rebuild_attention(layers, head_dim)
        if hasattr(block, "num_attention_heads"):
            block.num_attention_heads = head_dim  # what the block was built with: UNet3D's head size


def noise_augment(
    latents: torch.Tensor, noise: torch.Tensor, alphas_cumprod: torch.Tensor, timestep: int
) -> torch.Tensor:
    """Cascaded-diffusion noise augmentation of the low-resolution conditioning: ``q(x_t | x_0)`` at ``timestep``.

    Used identically in training and sampling, so the super-resolution stage sees the same corruption in both.
    """
    alpha = alphas_cumprod[timestep].to(device=latents.device, dtype=latents.dtype)
    return alpha.sqrt() * latents + (1.0 - alpha).sqrt() * noise
