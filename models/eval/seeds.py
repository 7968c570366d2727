"""Seed lists as the eval CLI and bench take them: ``"0,1,2"`` or a range ``"0-4"``."""

from __future__ import annotations

import re


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or a range ``"0-4"`` -> list of ints; ``ValueError`` on anything else."""
    text = text.strip()
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if match:
        lo, hi = int(match.group(1)), int(match.group(2))
        if hi < lo:
            raise ValueError(f"seed range {text!r} is empty")
        return list(range(lo, hi + 1))
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(
            f"--seeds must be comma-separated integers or a range like 0-4, got {text!r}"
        ) from exc
    if not seeds:
        raise ValueError("--seeds names no seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds repeats a seed: {text!r}")
    return seeds
