"""Drop-in modules that run a pipeline component through an exported graph (ONNX Runtime or TensorRT).

Each wrapper has its torch module's call signature and return type, and answers every other attribute
(``config``, ``dtype``, ``device``, ``encode``...) from the torch module it wraps, so the pipeline cannot tell
the difference. Where the graph cannot take a call (a shape outside a TensorRT profile, a spatial size the
exported UNet was not traced for, an argument the graph does not have, a runtime error) that call runs in torch
and the reason is logged once: a generation never fails because of an accelerated backend.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import torch
from diffusers.models.autoencoders.vae import DecoderOutput
from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput
from torch import nn
from transformers.modeling_outputs import BaseModelOutputWithPooling

from export.specs import Geometry, ModuleSpec

logger = logging.getLogger(__name__)


class Runner(Protocol):
    """An exported graph ready to run: ``OrtRunner`` or ``TensorRTEngine``."""

    @property
    def name(self) -> str: ...

    def unsupported(self, shapes: dict[str, tuple[int, ...]]) -> str | None: ...

    def run(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...


class AcceleratedModule(nn.Module):
    """Base of the wrappers: holds the torch module (attributes, fallback) and the runner."""

    def __init__(self, module: nn.Module, runner: Runner, spec: ModuleSpec, geometry: Geometry) -> None:
        super().__init__()
        self.torch_module = module
        self.runner = runner
        self.spec = spec
        self.spatial_multiple = spec.spatial_multiple(geometry)
        self.accelerated_calls = 0
        self.fallback_calls = 0
        self._warned: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules", {})
            if "torch_module" not in modules:
                raise
            return getattr(modules["torch_module"], name)

    @property
    def backend(self) -> str:
        return self.runner.name

    def extra_repr(self) -> str:
        return f"backend={self.runner.name!r}"

    def _unsupported(self, shapes: dict[str, tuple[int, ...]]) -> str | None:
        m = self.spatial_multiple
        for t in self.spec.inputs:
            for i, dim in enumerate(t.dims):
                if dim in ("height", "width") and shapes[t.name][i] % m:
                    return f"{t.name} {dim} {shapes[t.name][i]} is not a multiple of {m} (the traced graph's)"
        return self.runner.unsupported(shapes)

    def accelerated(self, feeds: dict[str, torch.Tensor], like: torch.Tensor) -> torch.Tensor | None:
        """The first output on ``like``'s device in the torch module's dtype, or None: run torch instead."""
        reason = self._unsupported({name: tuple(x.shape) for name, x in feeds.items()})
        if reason is None:
            try:
                out = self.runner.run(feeds)[self.spec.output_names[0]]
            except Exception as exc:  # a backend failure must not fail the generation: torch takes the call
                reason = f"{self.runner.name} failed: {exc}"
            else:
                self.accelerated_calls += 1
                return out.to(like.device, self.torch_module.dtype)
        self.fallback(reason)
        return None

    def fallback(self, reason: str) -> None:
        self.fallback_calls += 1
        if reason not in self._warned:
            self._warned.add(reason)
            logger.warning("%s: this call runs in torch: %s", self.spec.name, reason)


def batched(value: torch.Tensor | float | int, batch: int, device: torch.device) -> torch.Tensor:
    """A scalar or (B,) timestep/noise level as a float32 (B,) tensor."""
    return torch.as_tensor(value, device=device).float().reshape(-1).expand(batch)


class AcceleratedVideoUNet(AcceleratedModule):
    """``VideoUNet`` (base and super-resolution stages)."""

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        reference_latents: torch.Tensor,
        low_res_latents: torch.Tensor | None = None,
        noise_level: torch.Tensor | None = None,
    ) -> torch.Tensor:
        args = (sample, timestep, encoder_hidden_states, reference_latents, low_res_latents, noise_level)
        batch = sample.shape[0]
        feeds = {
            "sample": sample,
            "timestep": batched(timestep, batch, sample.device),
            "encoder_hidden_states": encoder_hidden_states,
            "reference_latents": reference_latents,
        }
        if "low_res_latents" in self.spec.input_names:
            if low_res_latents is None or noise_level is None:
                return self.torch_module(*args)  # raises the model's own ValueError
            feeds["low_res_latents"] = low_res_latents
            feeds["noise_level"] = batched(noise_level, batch, sample.device)
        out = self.accelerated(feeds, sample)
        return self.torch_module(*args) if out is None else out


class AcceleratedLatentVideo(AcceleratedModule):
    """One latent video in, one tensor out: ``FlowTemporalUpsampler``, ``VideoDecoder``."""

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        out = self.accelerated({self.spec.input_names[0]: latents}, latents)
        return self.torch_module(latents) if out is None else out


class AcceleratedUNet2D(AcceleratedModule):
    """The reference model's ``UNet2DConditionModel``, as ``StableDiffusionPipeline`` calls it."""

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        *args: Any,
        return_dict: bool = True,
        **kwargs: Any,
    ) -> UNet2DConditionOutput | tuple[torch.Tensor]:
        out = None
        extra = [k for k, v in kwargs.items() if v is not None] + (["positional extras"] if args else [])
        if extra:
            self.fallback(f"arguments the graph does not take: {sorted(extra)}")
        else:
            feeds = {
                "sample": sample,
                "timestep": batched(timestep, sample.shape[0], sample.device),
                "encoder_hidden_states": encoder_hidden_states,
            }
            out = self.accelerated(feeds, sample)
        if out is None:
            return self.torch_module(
                sample, timestep, encoder_hidden_states, *args, return_dict=return_dict, **kwargs
            )
        return UNet2DConditionOutput(sample=out) if return_dict else (out,)


class AcceleratedVAE(AcceleratedModule):
    """``AutoencoderKL`` whose ``decode`` runs the exported decoder; ``encode`` and the rest stay in torch."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.torch_module(*args, **kwargs)

    def decode(
        self, z: torch.Tensor, return_dict: bool = True, generator: torch.Generator | None = None
    ) -> DecoderOutput | tuple[torch.Tensor]:
        out = self.accelerated({"latents": z}, z)
        if out is None:
            return self.torch_module.decode(z, return_dict=return_dict)
        return DecoderOutput(sample=out) if return_dict else (out,)


class AcceleratedTextEncoder(AcceleratedModule):
    """``CLIPTextModel`` returning ``last_hidden_state`` (``pooler_output`` is None: the pipelines use ``[0]``)."""

    def forward(
        self, input_ids: torch.Tensor, *args: Any, return_dict: bool | None = None, **kwargs: Any
    ) -> BaseModelOutputWithPooling | tuple[torch.Tensor]:
        out = None
        # Tensors (an attention mask) must not meet ``==``: test identity only.
        extra = [k for k, v in kwargs.items() if v is not None and v is not False]
        extra += ["positional extras"] if args else []
        if extra:
            self.fallback(f"arguments the graph does not take: {sorted(extra)}")
        else:
            out = self.accelerated({"input_ids": input_ids}, input_ids)
        if out is None:
            return self.torch_module(input_ids, *args, return_dict=return_dict, **kwargs)
        return (out,) if return_dict is False else BaseModelOutputWithPooling(last_hidden_state=out)


WRAPPERS: dict[str, type[AcceleratedModule]] = {
    "video_unet": AcceleratedVideoUNet,
    "latent_video": AcceleratedLatentVideo,
    "unet2d": AcceleratedUNet2D,
    "vae_decoder": AcceleratedVAE,
    "text_encoder": AcceleratedTextEncoder,
}
