"""VideoGenPipeline: reference-guided cascaded latent video diffusion (Li et al., "VideoGen", 2023).

Stages, each reported to ``callback(stage, step, total)``:

1. ``reference``: a frozen Stable Diffusion makes the reference image from the prompt (or the caller brings one).
2. ``base``: a 3D UNet denoises a low-resolution, low-frame-rate latent video conditioned on text and the
   reference latent.
3. ``super_resolution``: a second 3D UNet raises the spatial resolution, conditioned on the noise-augmented,
   upsampled base latents, the reference latent and text.
4. ``temporal_upsampling``: flow-based latent frame interpolation, 2x frames per application.
5. ``decode``: the temporally-inflated VAE decoder turns latents into pixels, in frame chunks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from diffusers import (
    AutoencoderKL,
    DiffusionPipeline,
    SchedulerMixin,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils.torch_utils import randn_tensor
from transformers import CLIPTextModel, CLIPTokenizer

from core.stages import MAX_TEMPORAL_UPSAMPLING, PIPELINE_STAGES, Stage
from models.flow_upsampler import FlowTemporalUpsampler, blend_upsample
from models.pipeline_output import GenerationInterrupted, VideoGenPipelineOutput
from models.unet_video import VideoUNet, noise_augment
from models.video_decoder import VideoDecoder

ProgressCallback = Callable[[str, int, int], None]
ReferenceInput = PIL.Image.Image | np.ndarray | torch.Tensor


def token_ids(tokenizer: CLIPTokenizer, texts: list[str]) -> torch.Tensor:
    """Token ids (B, L) of ``texts``, padded and truncated to the tokenizer's ``model_max_length``, as the text
    encoder is fed them (the pipeline's prompts, training's captions)."""
    return tokenizer(
        texts,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids


class VideoGenPipeline(DiffusionPipeline):
    r"""Text (and optionally image) to video.

    Components:
        vae, text_encoder, tokenizer, reference_unet, reference_scheduler: the frozen Stable Diffusion reference
            model (any SD-1.x/2.x checkpoint in the diffusers layout).
        base_unet, sr_unet: ``VideoUNet`` denoisers of the two cascade stages.
        scheduler: the video stages' diffusers scheduler (DDIM, DPM-Solver++, ...), chosen by its saved config.
        temporal_upsampler: ``FlowTemporalUpsampler``.
        video_decoder: ``VideoDecoder``, the VAE decoder inflated with temporal layers.

    Config (saved in ``model_index.json``): ``sr_scale_factor`` (spatial factor of the cascade),
    ``noise_aug_timestep`` (noise augmentation of the base latents fed to the super-resolution stage),
    ``default_height`` / ``default_width`` / ``default_num_frames``, ``max_base_frames`` (longest base video the
    model was made for), ``decode_chunk_size`` (frames per decoder call, bounds memory), ``sr_steps_ratio``
    (the super-resolution stage takes this share of ``num_inference_steps``, at least one: it refines a video whose
    content and motion the base stage has fixed; the demo model's 0.5 was checked with ``videogen eval``,
    docs/results.md), ``sr_guidance_scale`` (the super-resolution stage's classifier-free guidance is at most
    this; ``None``: the request's; at 1 or below it runs the conditional branch only, half the forwards: its input
    is a video the guided base stage already made follow the prompt).
    """

    model_cpu_offload_seq = (
        "text_encoder->reference_unet->base_unet->sr_unet->temporal_upsampler->video_decoder->vae"
    )
    stages = PIPELINE_STAGES

    def __init__(
        self,
        vae: AutoencoderKL,
        text_encoder: CLIPTextModel,
        tokenizer: CLIPTokenizer,
        reference_unet: UNet2DConditionModel,
        reference_scheduler: SchedulerMixin,
        base_unet: VideoUNet,
        sr_unet: VideoUNet,
        scheduler: SchedulerMixin,
        temporal_upsampler: FlowTemporalUpsampler,
        video_decoder: VideoDecoder,
        sr_scale_factor: int = 2,
        noise_aug_timestep: int = 100,
        default_height: int = 256,
        default_width: int = 256,
        default_num_frames: int = 16,
        max_base_frames: int = 16,
        decode_chunk_size: int = 16,
        default_num_inference_steps: int = 25,
        default_guidance_scale: float = 7.5,
        default_temporal_upsampling: int = 1,
        reference_conditioning: bool = True,
        sr_steps_ratio: float = 1.0,
        sr_guidance_scale: float | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 < sr_steps_ratio <= 1.0:
            raise ValueError(f"sr_steps_ratio={sr_steps_ratio} must be in (0, 1]")
        if sr_guidance_scale is not None and not (
            math.isfinite(sr_guidance_scale) and sr_guidance_scale >= 0
        ):
            raise ValueError(f"sr_guidance_scale={sr_guidance_scale} must be None or a finite number >= 0")
        self.register_modules(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            reference_unet=reference_unet,
            reference_scheduler=reference_scheduler,
            base_unet=base_unet,
            sr_unet=sr_unet,
            scheduler=scheduler,
            temporal_upsampler=temporal_upsampler,
            video_decoder=video_decoder,
        )
        self.register_to_config(
            sr_scale_factor=sr_scale_factor,
            noise_aug_timestep=noise_aug_timestep,
            default_height=default_height,
            default_width=default_width,
            default_num_frames=default_num_frames,
            max_base_frames=max_base_frames,
            decode_chunk_size=decode_chunk_size,
            default_num_inference_steps=default_num_inference_steps,
            default_guidance_scale=default_guidance_scale,
            default_temporal_upsampling=default_temporal_upsampling,
            reference_conditioning=reference_conditioning,
            sr_steps_ratio=sr_steps_ratio,
            sr_guidance_scale=sr_guidance_scale,
        )
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor)
        self._interrupt = False

    @classmethod
    def from_stable_diffusion(cls, sd_dir: str | Path, **config: Any) -> VideoGenPipeline:
        """A VideoGen pipeline inflated from a diffusers-layout Stable Diffusion folder (``models.from_sd``).

        SD's text encoder, tokenizer, VAE, UNet (the reference model) and scheduler as they are; the video UNets
        and decoder inflated so that, before any video training, they act on each frame as SD does. ``config``
        overrides the pipeline settings (``default_height``, ...). Raises ``StableDiffusionFolderError``
        (a ``ValueError``) naming what is missing or unsupported.
        """
        from models.from_sd import components_from_sd

        components, pipeline_config = components_from_sd(sd_dir)
        return cls(**components, **{**pipeline_config, **config})

    # ------------------------------------------------------------------ conditioning

    def encode_prompt(
        self, prompt: list[str], negative_prompt: list[str] | None, do_classifier_free_guidance: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Text embeddings (B, L, D) for the prompts and, with guidance, for the negative prompts."""

        def embed(texts: list[str]) -> torch.Tensor:
            ids = token_ids(self.tokenizer, texts)
            return self.text_encoder(ids.to(self._execution_device))[0]

        prompt_embeds = embed(prompt)
        if not do_classifier_free_guidance:
            return prompt_embeds, None
        return prompt_embeds, embed(negative_prompt or [""] * len(prompt))

    def encode_reference(self, images: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Scaled VAE latents (B, C, height/f, width/f) of reference images in [-1, 1], (B, 3, H', W')."""
        images = F.interpolate(  # in float32: antialiased resizing has no bfloat16 kernel on CPU
            images.float(), size=(height, width), mode="bilinear", antialias=True, align_corners=False
        )
        vae_dtype = self.vae.dtype
        latents = self.vae.encode(images.to(vae_dtype)).latent_dist.mode()
        return latents * self.vae.config.scaling_factor

    def generate_reference(
        self,
        prompt: list[str],
        negative_prompt: list[str] | None,
        height: int,
        width: int,
        num_inference_steps: int,
        guidance_scale: float,
        generator: torch.Generator | None,
        callback: ProgressCallback | None,
    ) -> torch.Tensor:
        """Run the frozen text-to-image model: reference images in [-1, 1], (B, 3, height, width)."""
        sd = StableDiffusionPipeline(
            vae=self.vae,
            text_encoder=self.text_encoder,
            tokenizer=self.tokenizer,
            unet=self.reference_unet,
            scheduler=self.reference_scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        sd.set_progress_bar_config(**{**getattr(self, "_progress_bar_config", {}), "desc": Stage.REFERENCE})

        def on_step_end(_pipe: Any, step: int, _timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            self._check_interrupt()
            if callback is not None:
                callback(Stage.REFERENCE, step + 1, num_inference_steps)
            return kwargs

        latents = sd(
            prompt=prompt,
            negative_prompt=negative_prompt,
            height=height,
            width=width,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            generator=generator,
            output_type="latent",
            callback_on_step_end=on_step_end,
        ).images
        return self.vae.decode(latents / self.vae.config.scaling_factor).sample.clamp(-1, 1)

    def prepare_latents(
        self,
        batch_size: int,
        num_frames: int,
        height: int,
        width: int,
        dtype: torch.dtype,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """Initial noise (B, C, F, height, width) in latent units, scaled by the scheduler's init sigma."""
        shape = (batch_size, self.base_unet.config.latent_channels, num_frames, height, width)
        noise = randn_tensor(shape, generator=generator, device=self._execution_device, dtype=dtype)
        return noise * self.scheduler.init_noise_sigma

    # ------------------------------------------------------------------ validation

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this: the VAE factor x the super-resolution factor, and 8 (the
        reference model's own requirement)."""
        return math.lcm(8, self.vae_scale_factor * self.config.sr_scale_factor)

    @property
    def max_inference_steps(self) -> int:
        """The most denoising steps every scheduler can take: a "leading" spacing with ``steps_offset`` 1 (Stable
        Diffusion's) runs past the last training timestep at ``num_train_timesteps`` steps."""
        return min(
            s.config.num_train_timesteps - s.config.get("steps_offset", 0)
            for s in (self.scheduler, self.reference_scheduler)
        )

    def sr_steps_for(self, num_inference_steps: int) -> int:
        """Steps of the super-resolution stage when the others take ``num_inference_steps``."""
        return max(1, round(num_inference_steps * self.config.sr_steps_ratio))

    def sr_guidance_for(self, guidance_scale: float) -> float:
        """The super-resolution stage's guidance when the others take ``guidance_scale``."""
        cap = self.config.get("sr_guidance_scale")
        return guidance_scale if cap is None else min(guidance_scale, cap)

    def base_frames_for(self, num_frames: int, temporal_upsampling: int) -> int:
        """Frames the base stage makes so that ``temporal_upsampling`` doublings reach ``num_frames``."""
        return math.ceil((num_frames - 1) / 2**temporal_upsampling) + 1

    def check_inputs(
        self,
        prompt: list[str],
        negative_prompt: list[str] | None,
        num_frames: int,
        height: int,
        width: int,
        num_inference_steps: int,
        guidance_scale: float,
        temporal_upsampling: int,
        reference_image: ReferenceInput | list[ReferenceInput] | None,
    ) -> None:
        """Raise ``ValueError`` naming the first bad argument."""
        if not prompt or any(not isinstance(p, str) or not p.strip() for p in prompt):
            raise ValueError("prompt must be a non-empty string")
        if negative_prompt is not None and len(negative_prompt) != len(prompt):
            raise ValueError(f"negative_prompt has {len(negative_prompt)} entries for {len(prompt)} prompts")
        m = self.size_multiple
        for name, value in (("height", height), ("width", width)):
            if not isinstance(value, int) or value <= 0 or value % m:
                raise ValueError(f"{name}={value} must be a positive multiple of {m} for this model")
        if (
            not isinstance(temporal_upsampling, int)
            or not 0 <= temporal_upsampling <= MAX_TEMPORAL_UPSAMPLING
        ):
            raise ValueError(
                f"temporal_upsampling={temporal_upsampling} must be 0..{MAX_TEMPORAL_UPSAMPLING}"
            )
        if not isinstance(num_frames, int) or num_frames < 1 or (temporal_upsampling and num_frames < 2):
            raise ValueError(f"num_frames={num_frames} must be >= 1 (>= 2 with temporal upsampling)")
        base = self.base_frames_for(num_frames, temporal_upsampling)
        if base > self.config.max_base_frames:
            raise ValueError(
                f"num_frames={num_frames} with temporal_upsampling={temporal_upsampling} needs {base} base frames;"
                f" this model makes at most {self.config.max_base_frames}: raise temporal_upsampling or ask for"
                " fewer frames"
            )
        max_steps = self.max_inference_steps
        if not isinstance(num_inference_steps, int) or not 1 <= num_inference_steps <= max_steps:
            raise ValueError(f"num_inference_steps={num_inference_steps} must be 1..{max_steps}")
        if not math.isfinite(guidance_scale) or guidance_scale < 0:
            raise ValueError(f"guidance_scale={guidance_scale} must be a finite number >= 0")
        if reference_image is not None:
            images = reference_image if isinstance(reference_image, list) else [reference_image]
            if len(images) not in (1, len(prompt)):
                raise ValueError(f"{len(images)} reference images for {len(prompt)} prompts")

    # ------------------------------------------------------------------ properties

    def generation_defaults(self) -> dict[str, Any]:
        """The arguments a caller gets when it names none: what this model was trained and tuned for."""
        c = self.config
        return {
            "num_frames": c.default_num_frames,
            "height": c.default_height,
            "width": c.default_width,
            "num_inference_steps": c.default_num_inference_steps,
            "guidance_scale": c.default_guidance_scale,
            "temporal_upsampling": c.default_temporal_upsampling,
        }

    @property
    def interrupt(self) -> bool:
        """Set ``pipe.interrupt = True`` (from a callback or another thread) to stop at the next step."""
        return self._interrupt

    @interrupt.setter
    def interrupt(self, value: bool) -> None:
        self._interrupt = value

    def _check_interrupt(self) -> None:
        if self._interrupt:
            raise GenerationInterrupted("generation interrupted")

    # ------------------------------------------------------------------ stages

    def _denoise(
        self,
        stage: str,
        unet: VideoUNet,
        latents: torch.Tensor,
        text: torch.Tensor,
        reference: torch.Tensor,
        num_inference_steps: int,
        guidance_scale: float,
        callback: ProgressCallback | None,
        low_res: torch.Tensor | None = None,
        noise_level: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The sampling loop shared by both cascade stages. ``text`` is (2B, L, D) [uncond; cond] with guidance."""
        do_cfg = text.shape[0] != latents.shape[0]
        if do_cfg:
            # One batched forward for both branches; the reference (and low-res) conditioning is kept in both.
            reference, low_res, noise_level = (
                None if x is None else torch.cat([x, x]) for x in (reference, low_res, noise_level)
            )
        self.scheduler.set_timesteps(num_inference_steps, device=latents.device)
        timesteps = self.scheduler.timesteps
        with self.progress_bar(total=len(timesteps)) as bar:
            bar.set_description(stage)
            for i, t in enumerate(timesteps):
                self._check_interrupt()
                model_input = torch.cat([latents, latents]) if do_cfg else latents
                model_input = self.scheduler.scale_model_input(model_input, t)
                pred = unet(model_input, t, text, reference, low_res, noise_level)
                if do_cfg:
                    uncond, cond = pred.chunk(2)
                    pred = uncond + guidance_scale * (cond - uncond)
                latents = self.scheduler.step(pred, t, latents, return_dict=False)[0]
                bar.update()
                if callback is not None:
                    callback(stage, i + 1, len(timesteps))
        return latents

    def super_resolve(
        self,
        base_latents: torch.Tensor,
        text: torch.Tensor,
        reference: torch.Tensor,
        num_inference_steps: int,
        guidance_scale: float,
        generator: torch.Generator | list[torch.Generator] | None = None,
        callback: ProgressCallback | None = None,
    ) -> torch.Tensor:
        """The cascade's second stage: base latents (B, C, F, h, w) -> (B, C, F, h*s, w*s).

        The base latents are upsampled, noise-augmented at ``noise_aug_timestep`` and condition the
        super-resolution UNet, which samples ``sr_steps_for(num_inference_steps)`` steps. ``text`` is (2B, L, D)
        [uncond; cond] when ``guidance_scale`` > 1, else (B, L, D); ``reference`` the scaled reference latents
        (B, C, h*s, w*s). Noise is drawn from ``generator`` (torch's global RNG when None): the augmentation
        first, then the initial latents.
        """
        batch, _, frames, height, width = base_latents.shape
        dtype = base_latents.dtype
        low_res = self.upsample_spatial(base_latents)
        aug_t = self.config.noise_aug_timestep
        aug_noise = randn_tensor(low_res.shape, generator=generator, device=low_res.device, dtype=dtype)
        low_res = noise_augment(low_res, aug_noise, self.scheduler.alphas_cumprod, aug_t)
        noise_level = torch.full((batch,), aug_t, device=low_res.device, dtype=dtype)
        s = self.config.sr_scale_factor
        latents = self.prepare_latents(batch, frames, height * s, width * s, dtype, generator)
        return self._denoise(
            Stage.SUPER_RESOLUTION,
            self.sr_unet,
            latents,
            text,
            reference,
            self.sr_steps_for(num_inference_steps),
            guidance_scale,
            callback,
            low_res=low_res,
            noise_level=noise_level,
        )

    def upsample_spatial(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, C, F, h, w) -> (B, C, F, h*s, w*s), bilinear; the super-resolution stage's starting point."""
        b, c, f, h, w = latents.shape
        folded = latents.transpose(1, 2).reshape(b * f, c, h, w)
        s = self.config.sr_scale_factor
        up = F.interpolate(folded, scale_factor=s, mode="bilinear", align_corners=False)
        return up.reshape(b, f, c, h * s, w * s).transpose(1, 2)

    def decode_latents(self, latents: torch.Tensor, callback: ProgressCallback | None = None) -> torch.Tensor:
        """Pixels in [0, 1], (B, F, 3, H, W), decoding at most ``decode_chunk_size`` frames at a time."""
        chunk = self.config.decode_chunk_size
        num_frames = latents.shape[2]
        total = math.ceil(num_frames / chunk)
        decoded = []
        for i, start in enumerate(range(0, num_frames, chunk)):
            self._check_interrupt()
            part = latents[:, :, start : start + chunk].to(self.video_decoder.dtype)
            decoded.append(self.video_decoder(part).float())
            if callback is not None:
                callback(Stage.DECODE, i + 1, total)
        video = torch.cat(decoded, dim=2)  # (B, 3, F, H, W)
        return ((video + 1.0) / 2.0).clamp(0, 1).transpose(1, 2)

    # ------------------------------------------------------------------ call

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        reference_image: ReferenceInput | list[ReferenceInput] | None = None,
        temporal_upsampling: int | None = None,
        temporal_upsampling_mode: str = "flow",
        output_type: str = "np",
        return_stage_latents: bool = False,
        callback: ProgressCallback | None = None,
    ) -> VideoGenPipelineOutput:
        """Generate videos.

        Args:
            prompt: one prompt or a list (one video each).
            num_frames, height, width: output size. Height and width must be multiples of ``size_multiple``.
                This and every other None argument takes the model's default (``generation_defaults()``).
            generator / seed: randomness; the same seed and arguments give identical frames.
            reference_image: the caller's reference (image + text to video), PIL/uint8 HWC array/[-1, 1] CHW
                tensor; skips the text-to-image stage.
            temporal_upsampling: number of frame-rate doublings (0..3).
            temporal_upsampling_mode: ``"flow"`` (learned) or ``"blend"`` (the plain-averaging baseline).
            output_type: ``"np"``, ``"pt"`` or ``"latent"`` (see ``VideoGenPipelineOutput``).
            callback: ``callback(stage, step, total)`` after every step of every stage; may raise to abort.
        """
        # 0. Defaults and validation
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        negatives = [negative_prompt] * len(prompts) if isinstance(negative_prompt, str) else negative_prompt
        defaults = self.generation_defaults()
        num_frames = defaults["num_frames"] if num_frames is None else num_frames
        height = defaults["height"] if height is None else height
        width = defaults["width"] if width is None else width
        num_inference_steps = (
            defaults["num_inference_steps"] if num_inference_steps is None else num_inference_steps
        )
        guidance_scale = defaults["guidance_scale"] if guidance_scale is None else guidance_scale
        if temporal_upsampling is None:
            temporal_upsampling = defaults["temporal_upsampling"]
        self.check_inputs(
            prompts,
            negatives,
            num_frames,
            height,
            width,
            num_inference_steps,
            guidance_scale,
            temporal_upsampling,
            reference_image,
        )
        if temporal_upsampling_mode not in ("flow", "blend"):
            raise ValueError(
                f"temporal_upsampling_mode={temporal_upsampling_mode!r} must be 'flow' or 'blend'"
            )
        if output_type not in ("np", "pt", "latent"):
            raise ValueError(f"output_type={output_type!r} must be 'np', 'pt' or 'latent'")
        if generator is None and seed is not None:
            generator = torch.Generator("cpu").manual_seed(seed)
        self._interrupt = False
        batch = len(prompts)
        do_cfg = guidance_scale > 1.0
        dtype = self.base_unet.dtype
        stage_latents: dict[str, torch.Tensor] = {}

        # 1. Reference image: the frozen text-to-image model, or the caller's image
        if reference_image is None:
            images = self.generate_reference(
                prompts, negatives, height, width, num_inference_steps, guidance_scale, generator, callback
            )
        else:
            images = self._preprocess_reference(reference_image, batch, height, width)
            if callback is not None:
                callback(Stage.REFERENCE, 1, 1)
        s = self.config.sr_scale_factor
        f = self.vae_scale_factor
        reference_hi = self.encode_reference(images, height, width).to(dtype)  # (B, C, H/f, W/f)
        reference_lo = self.encode_reference(images, height // s, width // s).to(dtype)
        if not self.config.reference_conditioning:
            # A model trained without the reference (the paper's ablation): its stages saw zeros there.
            reference_hi, reference_lo = torch.zeros_like(reference_hi), torch.zeros_like(reference_lo)
        stage_latents[Stage.REFERENCE] = reference_hi

        # 2. Text conditioning, shared by both cascade stages
        cond, uncond = self.encode_prompt(prompts, negatives, do_cfg)
        text = (torch.cat([uncond, cond]) if do_cfg else cond).to(dtype)

        # 3. Base stage: low resolution, low frame rate
        base_frames = self.base_frames_for(num_frames, temporal_upsampling)
        latents = self.prepare_latents(
            batch, base_frames, height // f // s, width // f // s, dtype, generator
        )
        latents = self._denoise(
            Stage.BASE,
            self.base_unet,
            latents,
            text,
            reference_lo,
            num_inference_steps,
            guidance_scale,
            callback,
        )
        stage_latents[Stage.BASE] = latents

        # 4. Super-resolution stage, conditioned on the noise-augmented upsampled base latents
        sr_guidance = self.sr_guidance_for(guidance_scale)
        latents = self.super_resolve(
            latents,
            text if sr_guidance > 1.0 else cond.to(dtype),
            reference_hi,
            num_inference_steps,
            sr_guidance,
            generator,
            callback,
        )
        stage_latents[Stage.SUPER_RESOLUTION] = latents

        # 5. Temporal upsampling in latent space
        for i in range(temporal_upsampling):
            self._check_interrupt()
            if temporal_upsampling_mode == "flow":
                latents = self.temporal_upsampler(latents.to(self.temporal_upsampler.dtype))
            else:
                latents = blend_upsample(latents)
            if callback is not None:
                callback(Stage.TEMPORAL_UPSAMPLING, i + 1, temporal_upsampling)
        latents = latents[:, :, :num_frames]
        stage_latents[Stage.TEMPORAL_UPSAMPLING] = latents

        # 6. Decode
        reference_images = self.image_processor.pt_to_numpy(((images + 1) / 2).clamp(0, 1).float().cpu())
        reference_pil = self.image_processor.numpy_to_pil(reference_images)
        if output_type == "latent":
            frames: np.ndarray | torch.Tensor = latents
        else:
            video = self.decode_latents(latents, callback)  # (B, F, 3, H, W)
            if output_type == "pt":
                frames = video
            else:
                frames = (video.permute(0, 1, 3, 4, 2) * 255.0).round().to(torch.uint8).cpu().numpy()
        self.maybe_free_model_hooks()
        return VideoGenPipelineOutput(
            frames=frames,
            reference_images=reference_pil,
            stage_latents=stage_latents if return_stage_latents else None,
        )

    def _preprocess_reference(
        self, reference: ReferenceInput | list[ReferenceInput], batch: int, height: int, width: int
    ) -> torch.Tensor:
        """Caller references -> (B, 3, height, width) in [-1, 1]."""
        items = reference if isinstance(reference, list) else [reference]
        tensors = []
        for item in items:
            if isinstance(item, torch.Tensor):
                tensor = item if item.ndim == 4 else item[None]
            else:
                if isinstance(item, np.ndarray):
                    item = PIL.Image.fromarray(item)
                tensor = self.image_processor.preprocess(item.convert("RGB"), height=height, width=width)
            tensors.append(tensor)
        images = torch.cat(tensors).to(self._execution_device, torch.float32)
        if images.shape[0] == 1 and batch > 1:
            images = images.expand(batch, -1, -1, -1)
        return F.interpolate(
            images, size=(height, width), mode="bilinear", antialias=True, align_corners=False
        )
