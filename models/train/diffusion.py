"""The diffusion objective and a small sampler shared by the reference, base and super-resolution trainers."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, SchedulerMixin

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (noisy x_t, timesteps (B,)) -> prediction


def encode_images(vae: AutoencoderKL, images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Scaled latents (N, C, height/f, width/f) of images in [-1, 1], (N, 3, H, W).

    The same resize and encoding as ``VideoGenPipeline.encode_reference``: what a stage sees in training is what
    the pipeline gives it at inference.
    """
    images = F.interpolate(images, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return vae.encode(images.to(vae.dtype)).latent_dist.mode() * vae.config.scaling_factor


def encode_video(vae: AutoencoderKL, video: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, F, 3, H, W) pixels -> (B, C, F, height/f, width/f) scaled latents, frame by frame."""
    b, f = video.shape[:2]
    latents = encode_images(vae, video.flatten(0, 1), height, width)  # (B*F, C, h, w)
    return latents.reshape(b, f, *latents.shape[1:]).transpose(1, 2)


def upsample_spatial(latents: torch.Tensor, scale: int) -> torch.Tensor:
    """(B, C, F, h, w) -> (B, C, F, h*s, w*s), bilinear, as ``VideoGenPipeline.upsample_spatial``."""
    b, c, f, h, w = latents.shape
    folded = latents.transpose(1, 2).reshape(b * f, c, h, w)
    up = F.interpolate(folded, scale_factor=scale, mode="bilinear", align_corners=False)
    return up.reshape(b, f, c, h * scale, w * scale).transpose(1, 2)


def training_scheduler(config: dict) -> DDPMScheduler:
    """The forward process (``add_noise``, ``alphas_cumprod``) for a pipeline scheduler's saved config."""
    return DDPMScheduler.from_config(config)


def diffusion_loss(
    denoise: Denoiser, x0: torch.Tensor, scheduler: DDPMScheduler, snr_gamma: float = 5.0
) -> torch.Tensor:
    """Noise ``x0`` (B, ...) at uniform random timesteps, predict, and return the weighted MSE (a scalar).

    The target follows the scheduler's ``prediction_type``. Weighting is min-SNR-style: the loss is expressed in
    x0 units and weighted by ``clamp(SNR, 1, gamma)``, so nearly clean steps (easy, numerous) count at most
    ``gamma`` times the noisy ones that decide layout and motion, and no step counts less than plain x0-MSE.
    """
    batch = x0.shape[0]
    num_train = scheduler.config.num_train_timesteps
    timesteps = torch.randint(0, num_train, (batch,), device=x0.device)
    noise = torch.randn_like(x0)
    noisy = scheduler.add_noise(x0, noise, timesteps)
    pred = denoise(noisy, timesteps)
    alphas = scheduler.alphas_cumprod.to(x0.device)[timesteps]
    snr = alphas / (1.0 - alphas)
    kind = scheduler.config.prediction_type
    if kind == "sample":
        target, x0_weight = x0, torch.ones_like(snr)
    elif kind == "epsilon":
        target, x0_weight = noise, snr  # eps-MSE = SNR * x0-MSE
    elif kind == "v_prediction":
        target, x0_weight = scheduler.get_velocity(x0, noise, timesteps), snr + 1.0
    else:
        raise ValueError(f"unsupported prediction_type {kind!r}")
    weight = snr.clamp(1.0, snr_gamma) / x0_weight
    per_sample = (pred.float() - target.float()).square().flatten(1).mean(dim=1)
    return (weight * per_sample).mean()


@torch.no_grad()
def sample(
    denoise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    shape: tuple[int, ...],
    scheduler_config: dict,
    num_inference_steps: int,
    generator: torch.Generator,
    scheduler_cls: type[SchedulerMixin] = DDIMScheduler,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Run a sampler from pure noise. ``denoise(x_t, t)`` returns the (already guided) model prediction.

    The noise is drawn on the CPU from ``generator`` (the same samples whatever the device), then moved.
    """
    scheduler = scheduler_cls.from_config(scheduler_config)
    scheduler.set_timesteps(num_inference_steps)
    latents = torch.randn(shape, generator=generator).to(device) * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        pred = denoise(scheduler.scale_model_input(latents, t), t)
        latents = scheduler.step(pred, t, latents, return_dict=False)[0]
    return latents


def guided(
    model_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    cond: torch.Tensor,
    uncond: torch.Tensor,
    guidance_scale: float,
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Classifier-free guidance around ``model_fn(x_t, t, text)``: one batched call for both branches."""

    def denoise(latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        text = torch.cat([uncond, cond])
        pred_u, pred_c = model_fn(torch.cat([latents, latents]), t, text).chunk(2)
        return pred_u + guidance_scale * (pred_c - pred_u)

    return denoise
