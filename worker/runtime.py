"""Loading the model a worker serves with: the one place that turns settings into a ready pipeline (and, once
export backends are wired in, picks the backend per stage). Loaded once per worker process."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import ModelLoadError
from core.logging import adopt_library_loggers
from core.params import Capabilities
from core.settings import Settings
from worker.memory import MemoryProbe, probe_for

if TYPE_CHECKING:
    from models.pipeline_videogen import VideoGenPipeline

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """A loaded pipeline and what it can do. ``backends`` maps each pipeline stage to the backend running it;
    ``memory`` measures each stage's peak on ``device`` (``probe_for(device)`` unless given)."""

    pipeline: VideoGenPipeline  # imported for type checkers only: this module loads before torch
    capabilities: Capabilities
    device: str
    backends: dict[str, str] = field(default_factory=dict)
    memory: MemoryProbe | None = None

    def __post_init__(self) -> None:
        if self.memory is None:
            self.memory = probe_for(self.device)


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; anything else passes through."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_runtime(settings: Settings) -> Runtime:
    """Load ``settings.model`` on ``settings.device`` with ``settings.backend``; ``ModelLoadError`` says why not."""
    from export.backends import apply_backends, stage_backends
    from models.loading import load_pipeline
    from worker.threads import worker_threads

    adopt_library_loggers()  # diffusers/transformers (imported just now) log through the process's handler
    device = resolve_device(settings.device)
    try:
        pipe = load_pipeline(settings.model, device=device)
    except (ValueError, OSError) as exc:
        raise ModelLoadError(f"cannot load model {settings.model!r}: {exc}") from exc
    # Per module: TensorRT / ONNX Runtime / torch, each choice and its reason logged; never fails, falls back.
    compile_backend = "inductor" if settings.torch_compile else None
    backends = stage_backends(
        apply_backends(
            pipe,
            settings.backend,
            settings.engine_dir,
            compile_backend=compile_backend,
            threads=worker_threads(settings.workers_per_host, settings.torch_threads),  # ONNX Runtime's pool
        )
    )
    capabilities = Capabilities(
        model=str(settings.model),
        defaults=pipe.generation_defaults(),
        size_multiple=pipe.size_multiple,
        max_base_frames=pipe.config.max_base_frames,
        device=device,
        backends=backends,
    )
    logger.info("loaded model %s on %s (backends: %s)", settings.model, device, backends)
    if settings.warmup:
        warm_up(pipe, capabilities)
    return Runtime(pipeline=pipe, capabilities=capabilities, device=device, backends=backends)


def warm_up(pipe: Any, capabilities: Capabilities) -> None:
    """One generation of the model's default shape at 1 step (the stages and guidance batch of a default job),
    so lazy initialisation in torch and diffusers, and ``torch.compile`` for the default shape (shapes do not
    depend on the step count), is paid at startup and the first job starts as fast as every later one."""
    d = capabilities.defaults
    started = time.perf_counter()
    pipe(
        "warm-up",
        num_frames=int(d["num_frames"]),
        height=int(d["height"]),
        width=int(d["width"]),
        num_inference_steps=1,
        seed=0,
        temporal_upsampling=int(d["temporal_upsampling"]),
    )
    logger.info("warm-up generation took %.1fs", time.perf_counter() - started)
