"""The demo preset is small enough to commit."""

from __future__ import annotations

import torch

from models.presets import build_components


def test_demo_model_fits_the_30_mb_budget_in_fp32() -> None:
    parts = build_components("demo")
    total = sum(p.numel() for m in parts.values() if isinstance(m, torch.nn.Module) for p in m.parameters())
    assert total * 4 < 30e6
