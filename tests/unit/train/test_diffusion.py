"""The trainers encode references exactly as the pipeline does, and the loss targets follow the scheduler."""

from __future__ import annotations

import torch

from models.loading import build_pipeline
from models.train.diffusion import diffusion_loss, encode_images, training_scheduler, upsample_spatial


def test_training_encodes_references_exactly_as_the_pipeline() -> None:
    pipe = build_pipeline("tiny")
    images = torch.rand(2, 3, 40, 40) * 2 - 1
    with torch.no_grad():
        assert torch.equal(encode_images(pipe.vae, images, 16, 16), pipe.encode_reference(images, 16, 16))
        latents = torch.randn(1, 4, 3, 5, 5)
        assert torch.equal(upsample_spatial(latents, 2), pipe.upsample_spatial(latents))


def test_a_perfect_x0_predictor_has_zero_loss_and_a_wrong_one_does_not() -> None:
    pipe = build_pipeline("tiny")
    scheduler = training_scheduler({**pipe.scheduler.config, "prediction_type": "sample"})
    x0 = torch.randn(4, 4, 2, 3, 3)
    assert diffusion_loss(lambda x, t: x0, x0, scheduler).item() == 0.0
    assert diffusion_loss(lambda x, t: torch.zeros_like(x0), x0, scheduler).item() > 0.5
