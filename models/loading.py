"""Loading a VideoGenPipeline: a named preset built in code, or a folder in the diffusers layout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers.utils import logging as diffusers_logging
from transformers.utils import logging as transformers_logging

from models.pipeline_videogen import VideoGenPipeline
from models.presets import PRESETS, build_components

# The demo model trained on the synthetic world ships with the repository (docs/training.md).
DEMO_MODEL_DIR = Path(__file__).resolve().parent.parent / "weights" / "demo"
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors")
TOKENIZER_FILES = ("tokenizer.json", "vocab.json")


DTYPES = ("auto", "float32", "float16", "bfloat16")
# SD-family VAE decoders overflow in float16 (NaN / black frames): they stay float32 in a float16 pipeline, as
# the TensorRT exporter builds them (export.tensorrt_build.module_precision).
FLOAT32_IN_FLOAT16 = ("vae", "video_decoder")


class ModelFolderError(ValueError):
    """The model folder is missing or incomplete; the message names what is missing."""


@dataclass(frozen=True)
class DtypePlan:
    """The precision a pipeline is loaded in: ``dtype`` everywhere but ``float32_components``."""

    dtype: torch.dtype
    float32_components: tuple[str, ...] = ()

    def __str__(self) -> str:
        name = str(self.dtype).removeprefix("torch.")
        kept = f" ({', '.join(self.float32_components)} float32)" if self.float32_components else ""
        return name + kept


def choose_dtype(name: str, device: str | torch.device) -> DtypePlan:
    """``VIDEOGEN_DTYPE`` / ``--dtype`` -> the precision to load in. ``auto``: float16 on CUDA, float32 elsewhere.
    float16 keeps the VAE decoders (``vae``, ``video_decoder``) in float32."""
    if name not in DTYPES:
        raise ValueError(f"dtype={name!r} must be one of {DTYPES}")
    if name == "auto":
        name = "float16" if torch.device(device).type == "cuda" else "float32"
    dtype = getattr(torch, name)
    return DtypePlan(dtype, FLOAT32_IN_FLOAT16 if dtype == torch.float16 else ())


def _cast_inputs_to(module: torch.nn.Module, dtype: torch.dtype) -> None:
    """Cast floating tensor inputs of ``module`` to ``dtype`` (a float32 VAE fed float16 latents)."""

    def hook(_module: torch.nn.Module, args: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(
            a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args
        )

    module.register_forward_pre_hook(hook)


@contextmanager
def loading_bars(show: bool) -> Iterator[None]:
    """Show or hide the libraries' loading progress bars for the duration of the block."""
    if show:
        yield
        return
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        diffusers_logging.enable_progress_bar()
        transformers_logging.enable_progress_bar()


def resolve_model(model: str | Path) -> str | Path:
    """Map ``demo`` to the shipped demo weights; presets and folders pass through."""
    if str(model) != "demo":
        return model
    if not (DEMO_MODEL_DIR / "model_index.json").is_file():
        raise ModelFolderError(
            f"the demo model is not in {DEMO_MODEL_DIR}: train it (docs/training.md) or pass --model tiny"
        )
    return DEMO_MODEL_DIR


def build_pipeline(preset: str = "tiny", seed: int = 0) -> VideoGenPipeline:
    """A pipeline with random weights for a named preset (see ``models.presets``)."""
    return VideoGenPipeline(**build_components(preset, seed), **PRESETS[preset].pipeline)


def check_model_folder(path: Path) -> None:
    """Raise ``ModelFolderError`` naming the first missing file of a saved pipeline."""
    if not path.is_dir():
        raise ModelFolderError(f"model folder {path} does not exist")
    index_path = path / "model_index.json"
    if not index_path.is_file():
        raise ModelFolderError(f"{index_path} is missing: not a saved VideoGen pipeline")
    try:
        index = json.loads(index_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFolderError(f"{index_path} is not valid JSON: {exc}") from exc
    for name in VideoGenPipeline._get_signature_keys(VideoGenPipeline)[0]:
        if name not in index:
            raise ModelFolderError(f"{index_path} lists no component {name!r}")
        folder = path / name
        _library, class_name = index[name]
        if class_name.endswith("Scheduler"):
            required: tuple[str, ...] = ("scheduler_config.json",)
        elif class_name.endswith("Tokenizer") or class_name.endswith("TokenizerFast"):
            required = TOKENIZER_FILES
        else:
            required = WEIGHT_FILES
            config = "config.json"
            if not (folder / config).is_file():
                raise ModelFolderError(f"{folder / config} is missing")
        if not any((folder / f).is_file() for f in required):
            raise ModelFolderError(f"{folder / required[0]} is missing")


def load_pipeline(
    model: str | Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | DtypePlan = torch.float32,
    show_progress: bool = False,
) -> VideoGenPipeline:
    """Load ``model``: a preset name (``tiny``, ``base``) or a folder written by ``save_pretrained``.

    ``dtype``: one dtype for every component, or a ``DtypePlan`` (``choose_dtype``) that keeps some in float32;
    weights are read as stored (float32) and cast once. ``show_progress`` shows diffusers' and transformers'
    weight-loading bars (off: a worker logs, it draws none).
    """
    plan = dtype if isinstance(dtype, DtypePlan) else DtypePlan(dtype)
    model = resolve_model(model)
    if isinstance(model, str) and model in PRESETS:
        pipe = build_pipeline(model)
    else:
        path = Path(model).expanduser()
        check_model_folder(path)
        with loading_bars(show_progress):
            pipe = VideoGenPipeline.from_pretrained(path)
    if plan.dtype != torch.float32:
        with loading_bars(False):
            for name, component in pipe.components.items():
                if isinstance(component, torch.nn.Module) and name not in plan.float32_components:
                    component.to(dtype=plan.dtype)
    for name in plan.float32_components:
        component = getattr(pipe, name)
        # The pipeline feeds these the latents of the plan's dtype (the VAE inside diffusers' SD pipeline too).
        for part in (
            getattr(component, "post_quant_conv", None),
            getattr(component, "decoder", None),
            component,
        ):
            if isinstance(part, torch.nn.Module):
                _cast_inputs_to(part, torch.float32)
                break
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
