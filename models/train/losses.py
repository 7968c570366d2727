"""Pixel losses shared by the decoder recipes (``decoder`` and ``consistency``)."""

from __future__ import annotations

import torch


def edge_loss(decoded: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient-difference loss (Mathieu et al., 2016): mean |spatial difference of ``decoded`` - that of
    ``target``| over horizontal and vertical neighbours. A smeared or rounded edge pays for it, a uniform
    offset does not. Both tensors have the same shape, the last two dims (H, W)."""
    dx = (decoded.diff(dim=-1) - target.diff(dim=-1)).abs().mean()
    dy = (decoded.diff(dim=-2) - target.diff(dim=-2)).abs().mean()
    return dx + dy
