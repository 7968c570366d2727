"""Exponential moving average of a module's parameters (the weights a trained stage ships)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow = decay * shadow + (1 - decay) * param`` for every trainable parameter.

    The effective decay warms up as ``min(decay, (1 + n) / (10 + n))`` over the first updates, so early
    averages are not dominated by the random initialisation.
    """

    def __init__(self, module: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay={decay} must be in [0, 1)")
        self.decay = decay
        self.num_updates = 0
        self.shadow = {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        self.num_updates += 1
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for name, param in module.named_parameters():
            if name in self.shadow:
                self.shadow[name].lerp_(param.detach(), 1.0 - decay)

    def averaged_copy(self, module: nn.Module) -> nn.Module:
        """A deep copy of ``module`` holding the averaged parameters (``module`` itself is untouched)."""
        clone = copy.deepcopy(module)
        with torch.no_grad():
            for name, param in clone.named_parameters():
                if name in self.shadow:
                    param.copy_(self.shadow[name])
        return clone.eval()

    def state_dict(self) -> dict[str, object]:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.decay = float(state["decay"])  # type: ignore[arg-type]
        self.num_updates = int(state["num_updates"])  # type: ignore[call-overload]
        shadow: dict[str, torch.Tensor] = state["shadow"]  # type: ignore[assignment]
        if shadow.keys() != self.shadow.keys():
            raise ValueError("EMA state does not match the module's trainable parameters")
        for name, value in shadow.items():
            self.shadow[name].copy_(value)
