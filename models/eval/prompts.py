"""Prompt lists for evaluation: a prompts file (one a line) or the synthetic world's standard set."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.world import CAPTION, combinations

DEFAULT_SEEN_SAMPLE = 12


def read_prompts(path: str | Path) -> list[str]:
    """One prompt a line; blank lines and lines starting with ``#`` are skipped. ``ValueError`` when empty."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompts file {path} does not exist")
    prompts = [line.strip() for line in path.read_text().splitlines()]
    prompts = [p for p in prompts if p and not p.startswith("#")]
    if not prompts:
        raise ValueError(f"prompts file {path} holds no prompts")
    return prompts


def world_prompts(seen: int = DEFAULT_SEEN_SAMPLE, seed: int = 0) -> list[str]:
    """Every held-out colour-shape-direction triple on both backgrounds, then ``seen`` seen combinations.

    The seen sample is drawn without replacement by a seeded generator, so the list is the same everywhere.
    """
    held_out = [
        CAPTION.format(colour=c, shape=s, direction=d, background=b) for c, s, d, b in combinations(True)
    ]
    pool = combinations(False)
    if not 0 <= seen <= len(pool):
        raise ValueError(f"seen={seen} must be 0..{len(pool)}")
    picks = np.random.default_rng(seed).permutation(len(pool))[:seen]
    seen_prompts = [
        CAPTION.format(colour=c, shape=s, direction=d, background=b)
        for c, s, d, b in (pool[i] for i in picks)
    ]
    return held_out + seen_prompts
