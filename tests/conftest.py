"""Shared fixtures. Model fixtures build the ``tiny`` preset in code: a few MB, no files."""

from __future__ import annotations

import os

import pytest

# Two CPU cores in CI: keep torch from oversubscribing them when several processes run.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_pipeline():
    """One tiny VideoGenPipeline per test session (random weights, seed 0). Do not mutate it."""
    from models.loading import load_pipeline

    return load_pipeline("tiny")
