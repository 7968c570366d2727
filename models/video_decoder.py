"""The enhanced video decoder (VideoGen, section 3.4): Stable Diffusion's VAE decoder inflated in time.

After the decoder's mid block and after each of its up blocks a temporal stage mixes information across frames:
a temporal convolution (diffusers ``TemporalConvLayer``, kernel 3 over frames) and temporal self-attention
(diffusers ``TransformerTemporalModel``). Both are residual with their last projection zero-initialised, so a
freshly inflated decoder decodes every frame exactly as the image decoder does; training on unlabeled video then
teaches it to remove flicker.

The frame count is read from the 5D input tensor, never passed as a Python argument, so an exported graph keeps
the frame axis dynamic.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.vae import Decoder
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.resnet import TemporalConvLayer
from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel
from torch import nn


class TemporalMixer(nn.Module):
    """Temporal convolution then temporal attention on (B*F, C, H, W) features; the identity at init."""

    def __init__(self, channels: int, norm_num_groups: int, attention_head_dim: int) -> None:
        super().__init__()
        self.conv = TemporalConvLayer(channels, channels, norm_num_groups=norm_num_groups)
        heads = max(channels // attention_head_dim, 1)
        self.attention = TransformerTemporalModel(
            num_attention_heads=heads,
            attention_head_dim=channels // heads,
            in_channels=channels,
            norm_num_groups=norm_num_groups,
        )
        nn.init.zeros_(self.attention.proj_out.weight)
        nn.init.zeros_(self.attention.proj_out.bias)

    def last_layers(self) -> list[torch.Tensor]:
        """Weights and biases of the last layer of each residual branch: all zero, the mixer is the identity."""
        last = (self.conv.conv4[-1], self.attention.proj_out)
        return [t for layer in last for t in (layer.weight, layer.bias)]

    def forward(self, hidden_states: torch.Tensor, num_frames: int) -> torch.Tensor:
        hidden_states = self.conv(hidden_states, num_frames=num_frames)
        return self.attention(hidden_states, num_frames=num_frames, return_dict=False)[0]


class VideoDecoder(ModelMixin, ConfigMixin):
    """Decodes scaled latent videos to pixels.

    The first arguments mirror ``AutoencoderKL``'s decoder configuration so that ``from_vae`` can copy an image
    VAE's weights exactly; ``temporal_attention_head_dim`` sizes the added temporal attention.
    """

    @register_to_config
    def __init__(
        self,
        latent_channels: int = 4,
        out_channels: int = 3,
        up_block_types: tuple[str, ...] = ("UpDecoderBlock2D",) * 4,
        block_out_channels: tuple[int, ...] = (128, 256, 512, 512),
        layers_per_block: int = 2,
        norm_num_groups: int = 32,
        act_fn: str = "silu",
        mid_block_add_attention: bool = True,
        use_post_quant_conv: bool = True,
        scaling_factor: float = 0.18215,
        temporal_attention_head_dim: int = 64,
    ) -> None:
        super().__init__()
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1) if use_post_quant_conv else None
        self.decoder = Decoder(
            in_channels=latent_channels,
            out_channels=out_channels,
            up_block_types=tuple(up_block_types),
            block_out_channels=tuple(block_out_channels),
            layers_per_block=layers_per_block,
            norm_num_groups=norm_num_groups,
            act_fn=act_fn,
            mid_block_add_attention=mid_block_add_attention,
        )
        # One temporal stage after the mid block, then one after each up block (channels go from deep to shallow).
        stage_channels = [block_out_channels[-1], *reversed(block_out_channels)]
        self.temporal_mixers = nn.ModuleList(
            TemporalMixer(ch, norm_num_groups, temporal_attention_head_dim) for ch in stage_channels
        )

    @classmethod
    def from_vae(cls, vae: AutoencoderKL, temporal_attention_head_dim: int = 64) -> VideoDecoder:
        """Inflate an image VAE's decoder; the result decodes each frame exactly as ``vae.decode`` does."""
        cfg = vae.config
        decoder = cls(
            latent_channels=cfg.latent_channels,
            out_channels=cfg.out_channels,
            up_block_types=tuple(cfg.up_block_types),
            block_out_channels=tuple(cfg.block_out_channels),
            layers_per_block=cfg.layers_per_block,
            norm_num_groups=cfg.norm_num_groups,
            act_fn=cfg.act_fn,
            mid_block_add_attention=cfg.mid_block_add_attention,
            use_post_quant_conv=cfg.use_post_quant_conv,
            scaling_factor=cfg.scaling_factor,
            temporal_attention_head_dim=temporal_attention_head_dim,
        )
        decoder.decoder.load_state_dict(vae.decoder.state_dict())
        if decoder.post_quant_conv is not None:
            decoder.post_quant_conv.load_state_dict(vae.post_quant_conv.state_dict())
        return decoder.to(vae.device) if vae.dtype == torch.float32 else decoder.to(vae.device, vae.dtype)

    def temporal_parameters(self) -> list[nn.Parameter]:
        """The parameters added by inflation (what video fine-tuning trains first)."""
        return list(self.temporal_mixers.parameters())

    def identity_mixers(self) -> list[bool]:
        """Per temporal stage: True where it returns its input exactly, so a forward pass may skip it.

        A stage is the identity when the last layer of both of its residual branches is all zero: a freshly
        inflated decoder, or the stages a training run left untrained (the shipped demo trains only its
        low-resolution ones: the 64x64 stages would cost ~6x the spatial decoder on a CPU, docs/performance.md).
        Skipping is exact (``x + 0`` is ``x``; the next layer sees another memory layout, so frames agree to float
        rounding). While gradients are recorded a zero stage still runs if any of its parameters trains (the
        gradient must reach those zero layers); nothing is skipped while tracing or compiling (an exported graph
        serves any weights).
        """
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return [False] * len(self.temporal_mixers)
        nonzero = torch.stack([t.any() for m in self.temporal_mixers for t in m.last_layers()])
        zero = (~nonzero.view(len(self.temporal_mixers), -1).any(dim=1)).tolist()  # one host sync
        if not torch.is_grad_enabled():
            return zero
        mixers = self.temporal_mixers
        return [
            z and not any(p.requires_grad for p in m.parameters()) for z, m in zip(zero, mixers, strict=True)
        ]

    def forward(self, latents: torch.Tensor, temporal: bool = True) -> torch.Tensor:
        """Decode a latent video.

        Args:
            latents: (B, C, F, h, w), scaled as the diffusion models see them (``vae latent * scaling_factor``).
            temporal: False skips every temporal stage, so each frame is decoded alone by the decoder's spatial
                layers (the ablation that tells what the temporal layers add).

        Returns:
            Pixels in [-1, 1] (not clamped), (B, 3, F, h * s, w * s) where s is the VAE's spatial factor.
        """
        batch, channels, frames, height, width = latents.shape
        z = (
            latents.transpose(1, 2).reshape(batch * frames, channels, height, width)
            / self.config.scaling_factor
        )
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        dec = self.decoder
        skip = self.identity_mixers() if temporal else [True] * len(self.temporal_mixers)
        x = dec.conv_in(z)  # (B*F, C_deep, h, w)
        x = dec.mid_block(x, None)
        if not skip[0]:
            x = self.temporal_mixers[0](x, frames)
        for up_block, mixer, identity in zip(dec.up_blocks, self.temporal_mixers[1:], skip[1:], strict=True):
            x = up_block(x, None)
            if not identity:
                x = mixer(x, frames)
        x = dec.conv_out(dec.conv_act(dec.conv_norm_out(x)))  # (B*F, 3, H, W)
        return x.reshape(batch, frames, *x.shape[1:]).transpose(1, 2)
