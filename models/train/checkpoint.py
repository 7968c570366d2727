"""Resumable training checkpoints: model, optimizer, EMA, every RNG state and the step, in one file.

Written atomically (temporary file, then rename), so a crash while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_FILE = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    """The global RNG states that training draws from (Python, numpy, torch CPU and, where present, CUDA)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(folder: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the current RNG states) to ``folder/checkpoint.pt`` atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT_FILE
    tmp = path.with_suffix(".tmp")
    torch.save({**state, "rng": rng_state()}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(folder: Path) -> dict[str, Any] | None:
    """The checkpoint in ``folder`` (RNG states restored as a side effect), or None when there is none."""
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    set_rng_state(state["rng"])
    return state
