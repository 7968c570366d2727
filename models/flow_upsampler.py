"""Flow-based temporal upsampling in latent space (VideoGen, section 3.3).

Between every pair of neighbouring latent frames ``a`` and ``b`` the module estimates the bidirectional flow,
warps both frames to the middle time, fuses them with a learned occlusion/blend mask and adds a learned
refinement: ``F`` frames become ``2F - 1`` (the frame rate doubles over the same duration). Applying it again
gives 4x, then 8x.

Flow convention: ``flow_ab[:, :, y, x] = (dx, dy)`` in latent pixels says the content at ``x`` in ``a`` is at
``x + flow_ab`` in ``b``. Under the linear-motion assumption the middle frame is ``a`` sampled at
``x - flow_ab / 2`` and ``b`` sampled at ``x - flow_ba / 2``.

Warping uses 4D ``grid_sample`` with frames folded into the batch: ONNX ``GridSample`` from opset 16, and the only
form TensorRT supports.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward-warp: ``out[y, x] = image[y + flow_y, x + flow_x]`` (bilinear, border padding).

    Args:
        image: (N, C, H, W).
        flow: (N, 2, H, W) displacement in pixels, channel 0 = x, channel 1 = y.
    """
    _, _, height, width = image.shape
    ys = torch.arange(height, device=image.device, dtype=image.dtype).reshape(1, height, 1)
    xs = torch.arange(width, device=image.device, dtype=image.dtype).reshape(1, 1, width)
    # With align_corners=False pixel centre x sits at (x + 0.5) * 2 / W - 1. No Python arithmetic on the sizes,
    # so a traced graph keeps H and W dynamic.
    grid_x = (xs + flow[:, 0] + 0.5) * (2.0 / width) - 1.0  # (N, H, W)
    grid_y = (ys + flow[:, 1] + 0.5) * (2.0 / height) - 1.0
    grid = torch.stack([grid_x, grid_y], dim=-1)  # (N, H, W, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def interleave(frames: torch.Tensor, middles: torch.Tensor) -> torch.Tensor:
    """(B, C, F, H, W) and (B, C, F-1, H, W) -> (B, C, 2F-1, H, W): f0, m0, f1, m1, ..., f_{F-1}."""
    pairs = torch.stack([frames[:, :, :-1], middles], dim=3).flatten(2, 3)  # (B, C, 2F-2, H, W)
    return torch.cat([pairs, frames[:, :, -1:]], dim=2)


def blend_upsample(latents: torch.Tensor) -> torch.Tensor:
    """The non-flow baseline: each middle frame is the mean of its neighbours. (B, C, F, H, W) -> 2F-1 frames."""
    return interleave(latents, 0.5 * (latents[:, :, :-1] + latents[:, :, 1:]))


class FlowTemporalUpsampler(ModelMixin, ConfigMixin):
    """Estimates flow between neighbouring latent frames and synthesises the frame halfway between them.

    Args:
        latent_channels: channels of the latent video.
        hidden_channels: width of the flow estimator and refiner.
        max_flow: flow magnitude bound in latent pixels (``tanh`` scaled), keeps early training stable.
    """

    @register_to_config
    def __init__(self, latent_channels: int = 4, hidden_channels: int = 64, max_flow: float = 8.0) -> None:
        super().__init__()
        c, h = latent_channels, hidden_channels
        act = nn.SiLU()
        # Two-scale flow estimator: full resolution features plus a stride-2 context path.
        self.encoder = nn.Sequential(
            nn.Conv2d(2 * c, h, 3, padding=1), act, nn.Conv2d(h, h, 3, padding=1), act
        )
        self.context = nn.Sequential(
            nn.Conv2d(h, 2 * h, 3, stride=2, padding=1), act, nn.Conv2d(2 * h, 2 * h, 3, padding=1), act
        )
        self.flow_head = nn.Sequential(nn.Conv2d(3 * h, h, 3, padding=1), act, nn.Conv2d(h, 5, 3, padding=1))
        self.refiner = nn.Sequential(
            nn.Conv2d(3 * c + 1, h, 3, padding=1),
            act,
            nn.Conv2d(h, h, 3, padding=1),
            act,
            nn.Conv2d(h, c, 3, padding=1),
        )
        # At initialisation: zero flow, an even blend, no refinement, i.e. exactly the blend baseline.
        for layer in (self.flow_head[-1], self.refiner[-1]):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def estimate_flow(
        self, a: torch.Tensor, b: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flow a->b and b->a, each (N, 2, H, W) in latent pixels, and the blend-mask logit (N, 1, H, W)."""
        features = self.encoder(torch.cat([a, b], dim=1))  # (N, h, H, W)
        context = self.context(features)  # (N, 2h, ceil(H/2), ceil(W/2))
        context = F.interpolate(context, size=features.shape[-2:], mode="bilinear", align_corners=False)
        out = self.flow_head(torch.cat([features, context], dim=1))  # (N, 5, H, W)
        flow = self.config.max_flow * torch.tanh(out[:, :4] / self.config.max_flow)
        return flow[:, :2], flow[:, 2:4], out[:, 4:5]

    def interpolate(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        flow_ab: torch.Tensor | None = None,
        flow_ba: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The latent frame halfway between ``a`` and ``b``, each (N, C, H, W).

        Given ``flow_ab`` (e.g. the true flow, in tests) the estimator is bypassed; ``flow_ba`` then defaults to
        ``-flow_ab`` and the mask to an even blend.
        """
        if flow_ab is None:
            flow_ab, flow_ba, mask_logit = self.estimate_flow(a, b)
        else:
            flow_ba = -flow_ab if flow_ba is None else flow_ba
            mask_logit = torch.zeros_like(a[:, :1])
        warped_a = warp(a, -0.5 * flow_ab)
        warped_b = warp(b, -0.5 * flow_ba)
        mask = torch.sigmoid(mask_logit)
        fused = mask * warped_a + (1.0 - mask) * warped_b
        return fused + self.refiner(torch.cat([warped_a, warped_b, fused, mask], dim=1))

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """Double the frame rate: (B, C, F, H, W) -> (B, C, 2F-1, H, W)."""
        batch, channels, frames, height, width = latents.shape
        # Fold (B, F-1) pairs into the batch: (B*(F-1), C, H, W).
        a = latents[:, :, :-1].transpose(1, 2).reshape(-1, channels, height, width)
        b = latents[:, :, 1:].transpose(1, 2).reshape(-1, channels, height, width)
        middles = self.interpolate(a, b)
        middles = middles.reshape(batch, frames - 1, channels, height, width).transpose(1, 2)
        return interleave(latents, middles)
