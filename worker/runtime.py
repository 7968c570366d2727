"""Loading the model a worker serves with: the one place that turns settings into a ready pipeline, its
precision and the backend of each module (``load_model``, which ``videogen generate`` shares). Loaded once per
worker process."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelLoadError
from worker.memory import MemoryProbe, probe_for

# The worker's records and settings: not imported at run time by `videogen generate`, which shares load_model.
if TYPE_CHECKING:
    from core.params import Capabilities
    from core.settings import Settings
    from export.backends import BackendChoice
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


def load_model(
    model: str | Path,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "auto",
    engine_dir: Path | str | None = None,
    data_dir: Path | str | None = None,
    threads: int | None = None,
    compile_backend: str | None = None,
    show_progress: bool = False,
) -> tuple[VideoGenPipeline, dict[str, BackendChoice]]:
    """Load ``model`` on ``device`` in ``dtype`` (``models.loading.choose_dtype``) and put each module on its
    backend (``export.backends.select_backends``, each choice logged; never fails, falls back to torch).

    The engine cache (``<data_dir>/engines``, used with no ``engine_dir``) serves saved models under ``auto`` and
    any model under ``onnxruntime``: a preset (``tiny``) is built in code with seeded random weights for tests and
    development, and is not exported unless asked for. ``ValueError``/``OSError`` where the model cannot load.
    """
    from export.backends import select_backends
    from export.cache import cache_root
    from models.loading import PRESETS, choose_dtype, load_pipeline, resolve_model

    device = resolve_device(device)
    plan = choose_dtype(dtype, device)
    source = resolve_model(model)
    pipe = load_pipeline(source, device=device, dtype=plan, show_progress=show_progress)
    preset = isinstance(source, str) and source in PRESETS
    cache = (
        cache_root(data_dir) if data_dir is not None and (backend == "onnxruntime" or not preset) else None
    )
    choices = select_backends(
        pipe, backend, engine_dir, cache, threads=threads, compile_backend=compile_backend
    )
    logger.info("loaded model %s on %s in %s", model, device, plan)
    return pipe, choices


def load_runtime(settings: Settings) -> Runtime:
    """Load ``settings.model`` on ``settings.device`` in ``settings.dtype`` with ``settings.backend``;
    ``ModelLoadError`` says why not."""
    from core.logging import adopt_library_loggers
    from core.params import Capabilities
    from export.backends import stage_backends
    from worker.threads import worker_threads

    adopt_library_loggers()  # diffusers/transformers (imported just now) log through the process's handler
    device = resolve_device(settings.device)
    try:
        pipe, choices = load_model(
            settings.model,
            device=device,
            dtype=settings.dtype,
            backend=settings.backend,
            engine_dir=settings.engine_dir,
            data_dir=settings.data_dir,
            threads=worker_threads(settings.workers_per_host, settings.torch_threads),  # ONNX Runtime's pool
            compile_backend="inductor" if settings.torch_compile else None,
        )
    except (ValueError, OSError) as exc:
        raise ModelLoadError(f"cannot load model {settings.model!r}: {exc}") from exc
    backends = stage_backends(choices)
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
