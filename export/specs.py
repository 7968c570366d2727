"""Per-module export specs: names, dynamic axes, shape ranges (TensorRT min/opt/max) and sample inputs.

A spec knows how one pipeline component is exported and called as a graph of plain tensors; it never runs a
graph. Symbolic dims name what may change between calls: ``batch``, ``frames`` and the latent ``height`` /
``width``. The rest (``C`` latent channels, ``L`` text length, ``D`` text width) is fixed by the model and read
from the pipeline (``Geometry``).

Shape ranges are given in *pixels and prompts* (``ShapeRanges``) and turned into each module's latent dims here:
the base stage works at ``H / (vae_factor * sr_factor)``, everything else at ``H / vae_factor``; the denoisers
and the reference UNet see twice the batch under classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

if TYPE_CHECKING:
    from models.pipeline_videogen import VideoGenPipeline

Range = tuple[int, int, int]  # (min, opt, max)
Sampler = Literal["normal", "timestep", "token"]
Kind = Literal["video_unet", "latent_video", "unet2d", "vae_decoder", "text_encoder"]
MAX_TIMESTEP = 1000


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output. ``dims`` holds symbols (``"batch"``, ``"C"``...) or fixed sizes."""

    name: str
    dims: tuple[str | int, ...]
    dtype: torch.dtype = torch.float32
    sampler: Sampler = "normal"

    def shape(self, sizes: dict[str, int]) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else sizes[d] for d in self.dims)


@dataclass(frozen=True)
class Geometry:
    """The sizes of a pipeline that specs need: fixed dims and the spatial multiples each network requires."""

    latent_channels: int
    vae_scale_factor: int
    sr_scale_factor: int
    text_length: int
    text_dim: int
    vocab_size: int
    decode_chunk_size: int
    max_base_frames: int
    video_unet_multiple: int  # latent H and W must be multiples of this (2 ** number of upsamplers)
    reference_unet_multiple: int

    @classmethod
    def of(cls, pipe: VideoGenPipeline) -> Geometry:
        c = pipe.config
        return cls(
            latent_channels=pipe.vae.config.latent_channels,
            vae_scale_factor=pipe.vae_scale_factor,
            sr_scale_factor=c.sr_scale_factor,
            text_length=pipe.tokenizer.model_max_length,
            text_dim=pipe.text_encoder.config.hidden_size,
            vocab_size=pipe.text_encoder.config.vocab_size,
            decode_chunk_size=c.decode_chunk_size,
            max_base_frames=c.max_base_frames,
            video_unet_multiple=2 ** len(pipe.base_unet.config.block_out_channels[1:]),
            reference_unet_multiple=2 ** len(pipe.reference_unet.config.block_out_channels[1:]),
        )

    def fixed(self) -> dict[str, int]:
        return {"C": self.latent_channels, "L": self.text_length, "D": self.text_dim}


@dataclass(frozen=True)
class ShapeRanges:
    """What a deployment serves, in user units: prompts per request, frames of any latent video (base,
    super-resolution, upsampler input, decoder chunk) and the output height/width in pixels. (min, opt, max)."""

    batch: Range = (1, 1, 2)
    frames: Range = (1, 16, 16)
    height: Range = (128, 256, 512)
    width: Range = (128, 256, 512)

    @classmethod
    def defaults(cls, pipe: VideoGenPipeline) -> ShapeRanges:
        """Half to twice the model's default size; up to ``max_base_frames`` frames."""
        c = pipe.config
        frames_max = max(c.max_base_frames, c.default_num_frames)
        return cls(
            batch=(1, 1, 2),
            frames=(1, min(c.default_num_frames, frames_max), frames_max),
            height=(c.default_height // 2, c.default_height, c.default_height * 2),
            width=(c.default_width // 2, c.default_width, c.default_width * 2),
        )

    def __post_init__(self) -> None:
        for name in ("batch", "frames", "height", "width"):
            lo, opt, hi = getattr(self, name)
            if not 1 <= lo <= opt <= hi:
                raise ValueError(f"{name} range {lo}:{opt}:{hi} must satisfy 1 <= min <= opt <= max")

    def as_dict(self) -> dict[str, list[int]]:
        return {name: list(getattr(self, name)) for name in ("batch", "frames", "height", "width")}


@dataclass(frozen=True)
class ModuleSpec:
    """How one heavy module is exported and fed.

    Args:
        name: artifact name (``onnx/<name>.onnx``) and manifest key.
        component: the pipeline attribute holding the module.
        kind: call convention of the torch module (picks the export adapter and the runtime wrapper).
        level: ``"base"`` works at base-stage latent size, ``"latent"`` at the full latent size.
        frames: ``None`` (2D), ``"video"`` (1..max_base_frames), ``"pairs"`` (>= 2) or ``"chunk"`` (decoder).
        cfg_batch: classifier-free guidance doubles this module's batch.
        fp16_safe: False where fp16 overflows (SD-family VAE decoders give NaN/black frames); TensorRT builds
            such modules in fp32 when fp16 is asked for.
    """

    name: str
    component: str
    kind: Kind
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    level: Literal["base", "latent"] = "latent"
    frames: Literal["video", "pairs", "chunk"] | None = None
    cfg_batch: bool = False
    fp16_safe: bool = True
    output_axes: dict[str, dict[int, str]] = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """``torch.onnx.export`` dynamic axes: every symbolic dim of every input, and the outputs'."""
        axes = {
            t.name: {i: d for i, d in enumerate(t.dims) if d in DYNAMIC_DIMS}
            for t in (*self.inputs, *self.outputs)
        }
        for name, extra in self.output_axes.items():
            axes[name].update(extra)
        return {name: a for name, a in axes.items() if a}

    def spatial_multiple(self, geometry: Geometry) -> int:
        """Latent H and W this module's graph is valid for must be multiples of this."""
        if self.kind == "video_unet":
            return geometry.video_unet_multiple
        if self.kind == "unet2d":
            return geometry.reference_unet_multiple
        return 1

    def dim_ranges(self, ranges: ShapeRanges, geometry: Geometry) -> dict[str, Range]:
        """(min, opt, max) of each dynamic dim of this module, derived from the deployment's ``ranges``."""
        factor = geometry.vae_scale_factor * (geometry.sr_scale_factor if self.level == "base" else 1)
        m = self.spatial_multiple(geometry)

        def spatial(r: Range) -> Range:
            lo, opt, hi = (max(m, v // factor // m * m) for v in r)
            return lo, max(lo, opt), max(opt, hi)

        b = 2 if self.cfg_batch else 1
        out: dict[str, Range] = {"batch": (1, ranges.batch[1] * b, ranges.batch[2] * b)}
        used = {d for t in self.inputs for d in t.dims}
        if "height" in used:
            out["height"] = spatial(ranges.height)
            out["width"] = spatial(ranges.width)
        lo, opt, hi = ranges.frames
        if self.frames == "video":
            hi = min(hi, geometry.max_base_frames)
        elif self.frames == "chunk":
            hi = min(hi, geometry.decode_chunk_size)
        elif self.frames == "pairs":
            lo = max(lo, 2)
            hi = max(hi, lo)
        if self.frames is not None:
            out["frames"] = (min(lo, hi), min(max(opt, lo), hi), hi)
        return out

    def profile(self, ranges: ShapeRanges, geometry: Geometry) -> dict[str, list[list[int]]]:
        """Per input: [min shape, opt shape, max shape], a TensorRT optimization profile."""
        dims = self.dim_ranges(ranges, geometry)
        fixed = geometry.fixed()
        return {
            t.name: [list(t.shape({**fixed, **{k: v[i] for k, v in dims.items()}})) for i in range(3)]
            for t in self.inputs
        }

    def sample_inputs(
        self, sizes: dict[str, int], geometry: Geometry, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Fresh random inputs for the given dynamic ``sizes`` (``batch``, ``frames``, ``height``, ``width``)."""
        all_sizes = {**geometry.fixed(), **sizes}
        feeds = {}
        for t in self.inputs:
            shape = t.shape(all_sizes)
            if t.sampler == "timestep":
                x = torch.randint(0, MAX_TIMESTEP, shape, generator=generator).to(t.dtype)
            elif t.sampler == "token":
                x = torch.randint(0, geometry.vocab_size, shape, generator=generator).to(t.dtype)
            else:
                x = torch.randn(shape, generator=generator, dtype=t.dtype)
            feeds[t.name] = x
        return feeds

    def export_module(self, component: nn.Module) -> nn.Module:
        """A module whose ``forward`` takes exactly ``inputs`` as positional tensors and returns the output."""
        return _ADAPTERS[self.kind](component)


DYNAMIC_DIMS = ("batch", "frames", "height", "width")


# ---------------------------------------------------------------- export adapters (flat tensors in, one out)


class _Forward(nn.Module):
    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.module(*tensors)


class _UNet2DForward(_Forward):
    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.module(sample, timestep, encoder_hidden_states=text, return_dict=False)[0]


class _VaeDecodeForward(_Forward):
    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.module.decode(latents, return_dict=False)[0]


class _TextEncoderForward(_Forward):
    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.module(input_ids, return_dict=False)[0]


_ADAPTERS: dict[str, type[nn.Module]] = {
    "video_unet": _Forward,
    "latent_video": _Forward,
    "unet2d": _UNet2DForward,
    "vae_decoder": _VaeDecodeForward,
    "text_encoder": _TextEncoderForward,
}


# ---------------------------------------------------------------- the specs

_VIDEO = ("batch", "C", "frames", "height", "width")
_TEXT = TensorSpec("encoder_hidden_states", ("batch", "L", "D"))
_T = TensorSpec("timestep", ("batch",), sampler="timestep")
_REF = TensorSpec("reference_latents", ("batch", "C", "height", "width"))
_NOISE_OUT = TensorSpec("noise_pred", _VIDEO)

SPECS: dict[str, ModuleSpec] = {
    s.name: s
    for s in (
        ModuleSpec(
            name="base_unet",
            component="base_unet",
            kind="video_unet",
            inputs=(TensorSpec("sample", _VIDEO), _T, _TEXT, _REF),
            outputs=(_NOISE_OUT,),
            level="base",
            frames="video",
            cfg_batch=True,
        ),
        ModuleSpec(
            name="sr_unet",
            component="sr_unet",
            kind="video_unet",
            inputs=(
                TensorSpec("sample", _VIDEO),
                _T,
                _TEXT,
                _REF,
                TensorSpec("low_res_latents", _VIDEO),
                TensorSpec("noise_level", ("batch",), sampler="timestep"),
            ),
            outputs=(_NOISE_OUT,),
            frames="video",
            cfg_batch=True,
        ),
        ModuleSpec(
            name="temporal_upsampler",
            component="temporal_upsampler",
            kind="latent_video",
            inputs=(TensorSpec("latents", _VIDEO),),
            outputs=(TensorSpec("upsampled", _VIDEO),),
            frames="pairs",
            output_axes={"upsampled": {2: "frames_out"}},
        ),
        ModuleSpec(
            name="video_decoder",
            component="video_decoder",
            kind="latent_video",
            inputs=(TensorSpec("latents", _VIDEO),),
            outputs=(TensorSpec("video", ("batch", 3, "frames", "height", "width")),),
            frames="chunk",
            fp16_safe=False,
            output_axes={"video": {3: "height_px", 4: "width_px"}},
        ),
        ModuleSpec(
            name="reference_unet",
            component="reference_unet",
            kind="unet2d",
            inputs=(TensorSpec("sample", ("batch", "C", "height", "width")), _T, _TEXT),
            outputs=(TensorSpec("noise_pred", ("batch", "C", "height", "width")),),
            cfg_batch=True,
        ),
        ModuleSpec(
            name="vae_decoder",
            component="vae",
            kind="vae_decoder",
            inputs=(TensorSpec("latents", ("batch", "C", "height", "width")),),
            outputs=(TensorSpec("images", ("batch", 3, "height", "width")),),
            fp16_safe=False,
            output_axes={"images": {2: "height_px", 3: "width_px"}},
        ),
        ModuleSpec(
            name="text_encoder",
            component="text_encoder",
            kind="text_encoder",
            inputs=(TensorSpec("input_ids", ("batch", "L"), torch.int64, "token"),),
            outputs=(TensorSpec("last_hidden_state", ("batch", "L", "D")),),
        ),
    )
}


def spec_sizes(spec: ModuleSpec, ranges: ShapeRanges, geometry: Geometry, which: int) -> dict[str, int]:
    """The dynamic sizes at the min (0), opt (1) or max (2) corner of ``spec``'s ranges."""
    return {k: v[which] for k, v in spec.dim_ranges(ranges, geometry).items()}
