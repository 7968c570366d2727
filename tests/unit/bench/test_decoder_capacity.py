"""bench/decoder_capacity.py: its decoders take the VAE's latents to frames of the VAE's size, training moves them
towards the renders, and the report holds every row it names (tiny preset, a few steps)."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import pytest
import torch

from models.loading import build_pipeline


@pytest.fixture(scope="module")
def capacity(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("decoder_capacity")


def test_a_variant_names_its_widths_and_depth(capacity: ModuleType) -> None:
    assert capacity.parse_variant("32,64,64x2") == ((32, 64, 64), 2)
    assert capacity.parse_variant("16,32") == ((16, 32), 1)
    with pytest.raises(ValueError, match="CHANNELS"):
        capacity.parse_variant("wide")


def test_a_wider_decoder_decodes_the_vae_latents_to_frames_of_the_vae_size(capacity: ModuleType) -> None:
    pipe = build_pipeline("tiny")
    blocks = len(pipe.vae.config.block_out_channels)
    with pytest.raises(ValueError, match="blocks needed"):
        capacity.build_decoder(pipe, (8,) * (blocks + 1), 1)
    decoder = capacity.build_decoder(pipe, (16,) * blocks, 2)
    pixels = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        latents = capacity.latents_of(pipe, pixels)
        assert decoder(latents).shape == pipe.vae.decoder(latents).shape == pixels.shape


def test_training_brings_the_decoder_towards_the_renders_and_the_report_has_every_row(
    capacity: ModuleType, tmp_path
) -> None:
    out = tmp_path / "capacity.json"
    options = "--model tiny --steps 30 --batch-size 4 --clips 2 --variants 8,8x1 --lr 3e-3"
    assert capacity.main([*options.split(), "--out", str(out)]) == 0
    rows = {row["decoder"]: row for row in json.loads(out.read_text())["rows"]}
    assert list(rows) == [
        "ground truth (the render)",
        "the model's own image decoder",
        "8,8x1, 30 steps from scratch",
    ]
    assert rows["ground truth (the render)"]["clips"]["square_fill"][0] > 0.95  # the instrument on the render
    trained = rows["8,8x1, 30 steps from scratch"]
    assert trained["parameters"] > 0 and trained["seconds_per_step"] > 0
    # L1 + MSE + 2 x edges, on a new batch each step
    assert trained["last_loss"] < 0.8 * trained["first_loss"]
