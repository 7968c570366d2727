"""The six training recipes of VideoGen: what each trains, on which clips, with which loss.

- ``vae``: the image autoencoder (reconstruction + a tiny KL); for models trained from scratch (the demo).
- ``reference``: the text-to-image UNet on the first frames of captioned clips (the reference model).
- ``base`` / ``sr``: the cascade's video denoisers on captioned clips, conditioned on the clip's **first frame**
  as the reference image (encoded by the frozen VAE at the recipe's resolution, as the pipeline does), with
  ~10% of captions dropped for classifier-free guidance; ``sr`` also sees the noise-augmented, upsampled
  low-resolution latents at a random augmentation level.
- ``upsampler``: the flow temporal upsampler on unlabeled clips: drop every other latent frame, predict it.
- ``decoder``: the temporally inflated VAE decoder on unlabeled clips (textured ones too, ``--textured``), encoder
  frozen, fed latents degraded as generation leaves them (``DecoderRecipe``); by default only the temporal layers
  train (the spatial ones are the image decoder's); ``decoder_edge_weight`` adds a gradient-difference term.

Every recipe reads batches ``{"video": (B, F, 3, H, W) in [-1, 1], "caption": [...]}`` (``models.train.data``).

Every loss calls the trained network through the forward of ``model``: the trainer passes the module that
accelerate prepared from ``training_module()`` (DDP-wrapped when several processes train), so backward
all-reduces the gradients; without it (``model=None``) the bare module is called.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from PIL import Image
from torch import nn

from core.media import write_mp4
from models import world
from models.flow_upsampler import FlowTemporalUpsampler
from models.pipeline_videogen import VideoGenPipeline, token_ids
from models.train.data import ClipSpec
from models.train.diffusion import (
    diffusion_loss,
    encode_images,
    encode_video,
    guided,
    sample,
    training_scheduler,
    upsample_spatial,
)
from models.train.losses import edge_loss
from models.unet_video import VideoUNet, noise_augment
from models.video_decoder import VideoDecoder

# Prompts drawn in sample sheets: two seen combinations and two held-out ones (see models.world.HELD_OUT).
SAMPLE_PROMPTS = (
    "a yellow triangle moving up on a gray background",
    "a blue circle moving right on a black background",
    "a red triangle moving up on a black background",
    "a cyan circle moving down on a gray background",
)


@dataclass(frozen=True)
class RecipeOptions:
    """Knobs shared by the recipes (each reads the ones it needs)."""

    text_dropout: float = 0.1  # fraction of captions replaced by "" (classifier-free guidance)
    snr_gamma: float = 5.0  # min-SNR-style weight cap (models.train.diffusion.diffusion_loss)
    max_noise_level: int = 250  # sr: augmentation timestep drawn uniformly from [0, max_noise_level]
    kl_weight: float = 1e-7  # vae: weight of the summed KL per image
    pixel_weight: float = 0.0  # upsampler: weight of the decoded-pixel loss beside the latent loss
    decoder_all: bool = False  # decoder: train every parameter, not only the temporal layers
    decoder_mixers: int | None = (
        None  # decoder: train only the first N temporal stages (the rest stay identity)
    )
    decoder_interpolated: float = 0.0  # decoder: share of clips decoded from flow-upsampled keyframe latents
    decoder_regenerated: float = 0.0  # decoder: share of clips whose keyframes the frozen SR stage remakes
    decoder_latent_noise: float = 0.0  # decoder: per-frame latent noise, std drawn from [0, this] per clip
    decoder_edge_weight: float = 0.0  # decoder: weight of the gradient-difference term against the clean clip
    sr_crop: int = 0  # sr: train on random crop x crop latent windows (0: whole frames)
    reference: bool = True  # base/sr: condition on the first frame (False: zeros, the reference ablation)
    sample_steps: int = 10
    sample_guidance: float = 4.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] (..., 3, H, W) -> uint8 (..., H, W, 3)."""
    pixels = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.movedim(-3, -1).cpu().numpy()


def write_sheet(rows: list[np.ndarray], path: Path, scale: int = 2) -> Path:
    """Save rows of frames (each (F, H, W, 3) uint8) as one PNG contact sheet, upscaled ``scale`` x (nearest)."""
    width = max(r.shape[0] for r in rows)
    h, w = rows[0].shape[1:3]
    sheet = np.zeros((len(rows) * h, width * w, 3), dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, frame in enumerate(row):
            sheet[i * h : (i + 1) * h, j * w : (j + 1) * w] = frame
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(sheet)
    img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST).save(path)
    return path


def world_clips(prompts: tuple[str, ...], size: int, num_frames: int, stride: int, seed: int) -> torch.Tensor:
    """Ground-truth world clips for sample prompts: (P, F, 3, size, size) in [-1, 1] (frames every ``stride``)."""
    rng = np.random.default_rng(seed)
    clips = []
    for prompt in prompts:
        attrs = world.parse_caption(prompt)
        if attrs is None:
            raise ValueError(f"sample prompt {prompt!r} is not a world caption")
        combo = (attrs["colour"], attrs["shape"], attrs["direction"], attrs["background"])
        scene = world.sample_scene(rng, size, (num_frames - 1) * stride + 1, combo=combo)
        frames = world.render(scene, size, (num_frames - 1) * stride + 1)[::stride]
        clips.append(torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1)
    return torch.stack(clips)


class TextEmbedder:
    """Frozen text encoder with a per-caption cache (captions repeat; the encoder is deterministic)."""

    def __init__(self, text_encoder: nn.Module, tokenizer: Any) -> None:
        self.text_encoder, self.tokenizer = text_encoder, tokenizer
        self.cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def __call__(self, captions: list[str]) -> torch.Tensor:
        """(B, L, D) embeddings."""
        missing = sorted({c for c in captions if c not in self.cache})
        if missing:
            ids = token_ids(self.tokenizer, missing)
            device = next(self.text_encoder.parameters()).device
            for caption, emb in zip(missing, self.text_encoder(ids.to(device))[0], strict=True):
                self.cache[caption] = emb
        return torch.stack([self.cache[c] for c in captions])


class VaeObjective(nn.Module):
    """The VAE's training forward, one call (DDP only sees ``forward``): reconstruction and the mean KL."""

    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) in [-1, 1] -> (reconstruction (B, 3, H, W) from a posterior sample, mean KL (scalar))."""
        posterior = self.vae.encode(images).latent_dist
        return self.vae.decode(posterior.sample()).sample, posterior.kl().mean()


class Recipe:
    """What one training run trains. Subclasses set ``name``, ``clip``, ``module`` and implement ``loss``."""

    name: str
    clip: ClipSpec
    module: nn.Module

    def __init__(self, components: dict[str, Any], config: dict[str, Any], options: RecipeOptions) -> None:
        self.components, self.config, self.options = components, config, options
        self.vae: AutoencoderKL = components["vae"]
        self.scheduler = training_scheduler(components["scheduler"].config)
        self.text = TextEmbedder(components["text_encoder"], components["tokenizer"])
        self.sr_scale = int(config.get("sr_scale_factor", 2))
        self.vae_scale = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.height = int(config.get("default_height", 64))
        self.latent_cache: dict[Any, dict[str, torch.Tensor]] = {}

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.module.parameters() if p.requires_grad]

    def training_module(self) -> nn.Module:
        """What the trainer prepares with accelerate and passes back to ``loss``: ``module`` itself, except
        where the loss needs more than its forward (the VAE). It holds ``module``'s very parameters."""
        return self.module

    def net(self, model: nn.Module | None) -> nn.Module:
        """The module a loss calls: the prepared ``model`` when given, else ``training_module()``."""
        return self.training_module() if model is None else model

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def to(self, device: torch.device | str) -> Recipe:
        """Move the trained module and the frozen networks it reads (VAE, text encoder) to ``device``."""
        self.module.to(device)
        self.vae.to(device)
        self.text.text_encoder.to(device)
        self.text.cache.clear()
        self.latent_cache.clear()
        return self

    def sample_clips(self, num_frames: int, stride: int, seed: int) -> torch.Tensor:
        """Ground-truth clips of ``SAMPLE_PROMPTS`` on this recipe's device: (P, F, 3, H, W) in [-1, 1]."""
        return world_clips(SAMPLE_PROMPTS, self.height, num_frames, stride, seed).to(self.device)

    def loss(self, batch: dict[str, Any], model: nn.Module | None = None) -> torch.Tensor:
        """The scalar loss of ``batch``, the network called through ``model`` (see the module docstring)."""
        raise NotImplementedError

    def write_samples(self, module: nn.Module, folder: Path, step: int) -> list[Path]:
        """Write sample images/videos made with ``module`` (the EMA weights) under ``folder``."""
        return []

    def finalize(self, module: nn.Module) -> nn.Module:
        """The module to save once training ends (the VAE records its latent scaling here)."""
        return module

    def cached(
        self, batch: dict[str, Any], compute: Callable[[dict[str, Any]], dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        """``compute(batch)`` (what frozen networks make of a batch's clips), memoised per clip when the source has
        ``keys``; ``compute`` sees the clips not memoised yet, as ``{"video": ..., "caption": [...]}``."""
        keys = batch.get("keys")
        if keys is None:
            return compute(batch)
        missing = [i for i, k in enumerate(keys) if k not in self.latent_cache]
        if missing:
            fresh = compute(
                {"video": batch["video"][missing], "caption": [batch["caption"][i] for i in missing]}
            )
            for j, i in enumerate(missing):
                self.latent_cache[keys[i]] = {name: value[j] for name, value in fresh.items()}
        names = self.latent_cache[keys[0]]
        return {name: torch.stack([self.latent_cache[k][name] for k in keys]) for name in names}

    def captions(self, batch: dict[str, Any]) -> list[str]:
        """Captions with ``text_dropout`` of them blanked, drawn from torch's (checkpointed) RNG."""
        keep = torch.rand(len(batch["caption"])) >= self.options.text_dropout
        return [c if k else "" for c, k in zip(batch["caption"], keep.tolist(), strict=True)]


class VaeRecipe(Recipe):
    name = "vae"

    def __init__(self, components: dict[str, Any], config: dict[str, Any], options: RecipeOptions) -> None:
        super().__init__(components, config, options)
        self.clip = ClipSpec(num_frames=1, size=self.height)
        self.module = self.vae
        self.module.requires_grad_(True).train()
        self.objective = VaeObjective(self.module)

    def training_module(self) -> nn.Module:
        return self.objective

    def loss(self, batch: dict[str, Any], model: nn.Module | None = None) -> torch.Tensor:
        images = batch["video"][:, 0]  # (B, 3, H, W)
        recon, kl = self.net(model)(images)
        rec = F.l1_loss(recon, images) + F.mse_loss(recon, images)
        return rec + self.options.kl_weight * kl

    @torch.no_grad()
    def finalize(self, module: nn.Module) -> nn.Module:
        # Scale latents to unit variance, as Stable Diffusion's 0.18215 does for its VAE.
        clips = world_clips(SAMPLE_PROMPTS * 8, self.height, 4, 3, seed=1).flatten(0, 1)
        clips = clips.to(next(module.parameters()).device)
        latents = module.encode(clips).latent_dist.mode()
        module.register_to_config(scaling_factor=float(1.0 / latents.std()))
        return module

    @torch.no_grad()
    def write_samples(self, module: nn.Module, folder: Path, step: int) -> list[Path]:
        clips = self.sample_clips(4, 4, seed=step)
        frames = clips.flatten(0, 1)
        recon = module.decode(module.encode(frames).latent_dist.mode()).sample.reshape(clips.shape)
        rows = [to_uint8(x) for pair in zip(clips, recon, strict=True) for x in pair]
        return [write_sheet(rows, folder / f"vae_{step:06d}.png")]


class ReferenceRecipe(Recipe):
    name = "reference"

    def __init__(self, components: dict[str, Any], config: dict[str, Any], options: RecipeOptions) -> None:
        super().__init__(components, config, options)
        self.clip = ClipSpec(num_frames=1, size=self.height)
        self.module: UNet2DConditionModel = components["reference_unet"]
        self.module.requires_grad_(True).train()

    def latents(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return {"x0": encode_images(self.vae, video[:, 0], self.height, self.height)}  # (B, C, h, w)

    def loss(self, batch: dict[str, Any], model: nn.Module | None = None) -> torch.Tensor:
        x0 = self.cached(batch, lambda b: self.latents(b["video"]))["x0"]
        text = self.text(self.captions(batch))
        net = self.net(model)
        return diffusion_loss(lambda x, t: net(x, t, text).sample, x0, self.scheduler, self.options.snr_gamma)

    @torch.no_grad()
    def write_samples(self, module: nn.Module, folder: Path, step: int) -> list[Path]:
        cond, uncond = self.text(list(SAMPLE_PROMPTS)), self.text([""] * len(SAMPLE_PROMPTS))
        side = self.height // self.vae_scale
        channels = self.vae.config.latent_channels
        denoise = guided(
            lambda x, t, txt: module(x, t, txt).sample, cond, uncond, self.options.sample_guidance
        )
        rows = []
        for seed in range(3):
            latents = sample(
                denoise,
                (len(SAMPLE_PROMPTS), channels, side, side),
                self.scheduler.config,
                self.options.sample_steps,
                torch.Generator().manual_seed(seed),
                DDIMScheduler,
                self.device,
            )
            images = self.vae.decode(latents / self.vae.config.scaling_factor).sample
            rows.append(to_uint8(images))
        return [write_sheet(rows, folder / f"reference_{step:06d}.png")]


class CascadeRecipe(Recipe):
    """Base (``low_res=False``) or super-resolution (``low_res=True``) video denoiser."""

    def __init__(
        self, components: dict[str, Any], config: dict[str, Any], options: RecipeOptions, low_res: bool
    ) -> None:
        super().__init__(components, config, options)
        self.low_res = low_res
        self.name = "sr" if low_res else "base"
        self.module: VideoUNet = components["sr_unet" if low_res else "base_unet"]
        self.module.requires_grad_(True).train()
        # Base frames span the whole output clip: ``temporal_upsampling`` doublings fill the gaps.
        upsampling = int(config.get("default_temporal_upsampling", 0))
        num_frames = int(config.get("default_num_frames", 16))
        self.base_frames = math.ceil((num_frames - 1) / 2**upsampling) + 1
        self.stride = 2**upsampling
        self.clip = ClipSpec(num_frames=self.base_frames, size=self.height, frame_strides=(self.stride,))
        self.side = self.height if low_res else self.height // self.sr_scale  # pixels this recipe works at

    def crop(self, cond: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A random ``crop`` x ``crop`` latent window, the same for every clip and tensor of the batch.

        Super-resolution is local, and every input is pixel-aligned, so it trains on windows (4x cheaper at
        half the side) and runs fully convolutionally on whole frames.
        """
        size = self.options.sr_crop
        side = cond["x0"].shape[-1]
        if not size or size >= side:
            return cond
        top, left = (int(v) for v in torch.randint(0, side - size + 1, (2,)))
        return {k: v[..., top : top + size, left : left + size] for k, v in cond.items()}

    def conditioning(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        """x0 latents (B, C, F, h, w) and the conditioning tensors for a batch of clips (B, F, 3, H, W)."""
        with torch.no_grad():
            x0 = encode_video(self.vae, video, self.side, self.side)
            # The reference is the clip's first frame, encoded at this recipe's resolution like the pipeline does.
            cond = {"x0": x0, "reference": encode_images(self.vae, video[:, 0], self.side, self.side)}
            if not self.options.reference:
                cond["reference"] = torch.zeros_like(cond["reference"])
            if self.low_res:
                low = self.side // self.sr_scale
                cond["low_res_clean"] = upsample_spatial(
                    encode_video(self.vae, video, low, low), self.sr_scale
                )
        return cond

    def augment(self, low_res: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        """Noise-augment each clip's low-res latents at its own level (``noise_augment``, as at inference)."""
        noise = torch.randn_like(low_res)
        alphas = self.scheduler.alphas_cumprod
        return torch.stack(
            [
                noise_augment(x[None], n[None], alphas, int(lv))[0]
                for x, n, lv in zip(low_res, noise, levels, strict=True)
            ]
        )

    def loss(self, batch: dict[str, Any], model: nn.Module | None = None) -> torch.Tensor:
        cond = self.cached(batch, lambda b: self.conditioning(b["video"]))
        if self.low_res:
            cond = self.crop(cond)
        text = self.text(self.captions(batch))
        low_res = levels = None
        if self.low_res:
            levels = torch.randint(0, self.options.max_noise_level + 1, (len(text),)).to(cond["x0"].device)
            low_res = self.augment(cond["low_res_clean"], levels)
        net = self.net(model)
        return diffusion_loss(
            lambda x, t: net(x, t, text, cond["reference"], low_res, levels),
            cond["x0"],
            self.scheduler,
            self.options.snr_gamma,
        )

    @torch.no_grad()
    def write_samples(self, module: nn.Module, folder: Path, step: int) -> list[Path]:
        clips = self.sample_clips(self.base_frames, self.stride, seed=step)
        cond = self.conditioning(clips)
        n = len(SAMPLE_PROMPTS)
        text_c, text_u = self.text(list(SAMPLE_PROMPTS)), self.text([""] * n)
        reference = torch.cat([cond["reference"]] * 2)
        low_res = levels = None
        if self.low_res:
            aug_t = int(self.config.get("noise_aug_timestep", 100))
            levels = torch.full((2 * n,), aug_t, device=self.device)
            low_res = torch.cat([self.augment(cond["low_res_clean"], levels[:n])] * 2)
        denoise = guided(
            lambda x, t, txt: module(x, t, txt, reference, low_res, levels),
            text_c,
            text_u,
            self.options.sample_guidance,
        )
        latents = sample(
            denoise,
            tuple(cond["x0"].shape),
            self.scheduler.config,
            self.options.sample_steps,
            torch.Generator().manual_seed(step),
            device=self.device,
        )
        b, c, f, h, w = latents.shape
        frames = self.vae.decode(
            latents.transpose(1, 2).reshape(b * f, c, h, w) / self.vae.config.scaling_factor
        )
        frames = frames.sample.reshape(b, f, 3, self.side, self.side)
        truth = F.interpolate(clips.flatten(0, 1), size=(self.side,) * 2, mode="bilinear", antialias=True)
        truth = truth.reshape(b, f, 3, self.side, self.side)
        rows = [to_uint8(x) for pair in zip(truth, frames, strict=True) for x in pair]
        paths = [write_sheet(rows, folder / f"{self.name}_{step:06d}.png", scale=128 // self.side)]
        paths.append(write_mp4(to_uint8(frames[0]), folder / f"{self.name}_{step:06d}.mp4", fps=4))
        return paths


class UpsamplerRecipe(Recipe):
    name = "upsampler"

    def __init__(self, components: dict[str, Any], config: dict[str, Any], options: RecipeOptions) -> None:
        super().__init__(components, config, options)
        self.module: FlowTemporalUpsampler = components["temporal_upsampler"]
        self.module.requires_grad_(True).train()
        # Kept frames are 2 or 4 source frames apart: the gaps of the pipeline's two doublings (5 -> 9 -> 17).
        self.clip = ClipSpec(num_frames=5, size=self.height, frame_strides=(1, 2))

    def latents(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return {"latents": encode_video(self.vae, video, self.height, self.height)}  # (B, C, F, h, w)

    def predict(self, module: nn.Module, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted and true dropped latent frames, each (B, C, F//2, h, w), from (B, C, F, h, w)."""
        upsampled = module(latents[:, :, ::2])
        return upsampled[:, :, 1::2], latents[:, :, 1::2]

    def loss(self, batch: dict[str, Any], model: nn.Module | None = None) -> torch.Tensor:
        latents = self.cached(batch, lambda b: self.latents(b["video"]))["latents"]
        pred, target = self.predict(self.net(model), latents)
        loss = F.mse_loss(pred, target)
        if self.options.pixel_weight > 0:
            b, c, f, h, w = pred.shape
            decoded = self.vae.decode(
                pred.transpose(1, 2).reshape(b * f, c, h, w) / self.vae.config.scaling_factor
            )
            truth = batch["video"][:, 1::2].flatten(0, 1)
            loss = loss + self.options.pixel_weight * F.l1_loss(decoded.sample, truth)
        return loss

    @torch.no_grad()
    def write_samples(self, module: nn.Module, folder: Path, step: int) -> list[Path]:
        clips = self.sample_clips(5, 2, seed=step)
        pred, _ = self.predict(module, self.latents(clips)["latents"])
        b, c, f, h, w = pred.shape
        decoded = self.vae.decode(
            pred.transpose(1, 2).reshape(b * f, c, h, w) / self.vae.config.scaling_factor
        )
        decoded = decoded.sample.reshape(b, f, 3, self.height, self.height)
        rows = [to_uint8(x) for pair in zip(clips[:, 1::2], decoded, strict=True) for x in pair]
        return [write_sheet(rows, folder / f"upsampler_{step:06d}.png")]


class DecoderRecipe(Recipe):
    """The video decoder on unlabeled clips, fed the latents it will decode at inference.

    A generated video's latents are not an encoder's: three of every four frames come from the flow upsampler
    (the pipeline's two doublings) and the others from the super-resolution stage, with that stage's own errors
    (soft edges, blotches). So ``decoder_regenerated`` of the clips have their keyframes (every fourth frame)
    remade by the frozen super-resolution stage from the clip's own low-resolution latents, as generation makes
    them from the base stage's, and are then rebuilt by the frozen upsampler; ``decoder_interpolated`` of the
    others are rebuilt from their encoded keyframes; every clip gets per-frame Gaussian noise of a std drawn from
    ``[0, decoder_latent_noise]``. The target is always the clean clip. The temporal stages learn to take from
    the neighbouring frames what one frame's latent lost.
    """

    name = "decoder"

    def __init__(self, components: dict[str, Any], config: dict[str, Any], options: RecipeOptions) -> None:
        super().__init__(components, config, options)
        self.module: VideoDecoder = components["video_decoder"]
        self.upsampler: FlowTemporalUpsampler = components["temporal_upsampler"]
        self.module.requires_grad_(False).train()
        mixers = self.module.temporal_mixers
        count = len(mixers) if options.decoder_mixers is None else options.decoder_mixers
        if not 0 < count <= len(mixers):
            raise ValueError(f"decoder_mixers must be in 1..{len(mixers)}, got {options.decoder_mixers}")
        params = list(mixers[:count].parameters())
        if options.decoder_all:
            params += [
                p for name, p in self.module.named_parameters() if not name.startswith("temporal_mixers.")
            ]
        for p in params:
            p.requires_grad_(True)
        # 9 frames: two doublings rebuild frames 1-3 and 5-7 from frames 0, 4 and 8, as the pipeline does.
        self.clip = ClipSpec(num_frames=9, size=self.height, frame_strides=(1, 2))
        self.pipe: VideoGenPipeline | None = None
        if options.decoder_regenerated > 0:  # the frozen cascade, for its super-resolution stage
            self.pipe = VideoGenPipeline(**components, **config)
            self.pipe.set_progress_bar_config(disable=True)
            self.pipe.sr_unet.requires_grad_(False).eval()

    def to(self, device: torch.device | str) -> DecoderRecipe:
        super().to(device)
        self.upsampler.to(device)
        if self.pipe is not None:
            self.pipe.sr_unet.to(device)
        return self

    @torch.no_grad()
    def regenerate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Keyframe latents (B, C, 3, h, w) of a batch's clips (frames 0, 4, 8) as the frozen super-resolution
        stage makes them from the clips' own low-resolution latents, with their captions and first frames as
        text and reference (the pipeline's guidance and steps); torch's RNG."""
        pipe = self.pipe
        video = batch["video"]
        low = self.height // self.sr_scale
        base = encode_video(self.vae, video[:, ::4], low, low)
        reference = encode_images(self.vae, video[:, 0], self.height, self.height)
        if not pipe.config.reference_conditioning:
            reference = torch.zeros_like(reference)
        guidance = pipe.sr_guidance_for(pipe.config.default_guidance_scale)
        text = self.text(list(batch["caption"]))
        if guidance > 1.0:  # [uncond; cond], as the pipeline batches them
            text = torch.cat([self.text([""] * len(text)), text])
        steps = pipe.config.default_num_inference_steps
        return {"keyframes": pipe.super_resolve(base, text, reference, steps, guidance)}

    @torch.no_grad()
    def degrade(self, latents: torch.Tensor, regenerated: torch.Tensor | None = None) -> torch.Tensor:
        """Latents (B, C, 9, h, w) as generation leaves them (see the class docstring); torch's RNG.

        ``regenerated``: the clips' keyframes from ``regenerate`` (B, C, 3, h, w), needed when
        ``decoder_regenerated`` > 0.
        """
        batch = latents.shape[0]
        out = latents
        keyframes = latents[:, :, ::4]
        rebuild = torch.zeros(batch, dtype=torch.bool, device=latents.device)
        if self.options.decoder_interpolated > 0:
            rebuild = torch.rand(batch, device=latents.device) < self.options.decoder_interpolated
        if self.options.decoder_regenerated > 0:
            if regenerated is None:
                raise ValueError("decoder_regenerated needs the regenerated keyframes")
            remade = torch.rand(batch, device=latents.device) < self.options.decoder_regenerated
            keyframes = torch.where(remade.view(batch, 1, 1, 1, 1), regenerated, keyframes)
            rebuild = rebuild | remade
        if rebuild.any():
            rebuilt = self.upsampler(self.upsampler(keyframes))
            out = torch.where(rebuild.view(batch, 1, 1, 1, 1), rebuilt, latents)
        if self.options.decoder_latent_noise > 0:
            std = torch.rand(batch, 1, 1, 1, 1, device=latents.device) * self.options.decoder_latent_noise
            out = out + std * torch.randn_like(out)
        return out

    def loss(self, batch: dict[str, Any], model: nn.Module | None = None) -> torch.Tensor:
        video = batch["video"]  # (B, F, 3, H, W)
        regenerated = None
        if self.options.decoder_regenerated > 0:
            regenerated = self.cached(batch, self.regenerate)["keyframes"]
        with torch.no_grad():
            latents = self.degrade(encode_video(self.vae, video, self.height, self.height), regenerated)
        decoded = self.net(model)(latents).transpose(1, 2)  # (B, F, 3, H, W)
        # Beside per-pixel error, match frame-to-frame differences (that is what flicker breaks) and, with
        # ``decoder_edge_weight``, neighbouring pixels' differences (per-pixel losses tolerate rounded corners
        # and soft edges: docs/results.md, "Video decoder vs per-frame image decoder").
        temporal = F.l1_loss(decoded.diff(dim=1), video.diff(dim=1))
        loss = F.l1_loss(decoded, video) + F.mse_loss(decoded, video) + temporal
        if self.options.decoder_edge_weight > 0:
            loss = loss + self.options.decoder_edge_weight * edge_loss(decoded, video)
        return loss

    @torch.no_grad()
    def write_samples(self, module: nn.Module, folder: Path, step: int) -> list[Path]:
        """Rows of truth, then the decoder on rebuilt-from-keyframes latents with the largest training noise."""
        clips = self.sample_clips(9, 1, seed=step)
        generator = torch.Generator(device="cpu").manual_seed(step)
        latents = encode_video(self.vae, clips, self.height, self.height)
        latents = self.upsampler(self.upsampler(latents[:, :, ::4]))
        noise = torch.randn(latents.shape, generator=generator).to(latents.device)
        decoded = module(latents + self.options.decoder_latent_noise * noise).transpose(1, 2)
        rows = [to_uint8(x) for pair in zip(clips, decoded, strict=True) for x in pair]
        return [write_sheet(rows, folder / f"decoder_{step:06d}.png")]


def build_recipe(
    name: str, components: dict[str, Any], config: dict[str, Any], options: RecipeOptions
) -> Recipe:
    """The recipe called ``name`` (one of ``models.train.components.RECIPES``)."""
    if name == "vae":
        return VaeRecipe(components, config, options)
    if name == "reference":
        return ReferenceRecipe(components, config, options)
    if name in ("base", "sr"):
        return CascadeRecipe(components, config, options, low_res=name == "sr")
    if name == "upsampler":
        return UpsamplerRecipe(components, config, options)
    if name == "decoder":
        return DecoderRecipe(components, config, options)
    if name == "consistency":
        raise ValueError("consistency is not a Trainer recipe: models.train.consistency.fine_tune runs it")
    raise ValueError(f"unknown recipe {name!r}; choose one of vae, reference, base, sr, upsampler, decoder")
