"""``torch.compile`` for the modules that stay on torch: the last backend's optional speed-up.

Modules are compiled in place (``nn.Module.compile``), so the pipeline keeps calling the same objects. Shapes are
static: each new (batch, frames, size) compiles once more on its first call (the worker's warm-up pays for the
default one), because inductor's dynamic-shape lowering of the video UNets failed on torch 2.13 (a
``ValueRangeError`` in a strided 3D convolution) and static graphs are the faster ones anyway. Only the modules
the pipeline calls directly are compiled: the video denoisers, the reference UNet, the temporal upsampler and the
video decoder (the VAE is called through ``decode`` and the text encoder once per video).

Compiling with inductor takes minutes on a CPU (its cache, ``TORCHINDUCTOR_CACHE_DIR``, makes later starts
shorter) and needs a C++ compiler (CPU) or Triton (CUDA); where compiling fails, the module runs eagerly and
dynamo logs why: a generation never fails because of it. docs/performance.md has the measured speed-ups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from export.specs import ModuleSpec

COMPILED_KINDS = frozenset({"video_unet", "unet2d", "latent_video"})
SHAPES_PER_MODULE = 32  # compiled shapes kept per module before dynamo gives up and runs it eagerly


def compilable(spec: ModuleSpec) -> bool:
    return spec.kind in COMPILED_KINDS


def compile_in_place(module: nn.Module, backend: str | Callable[..., Any] = "inductor") -> None:
    """Compile ``module``'s calls with ``backend`` (``inductor``; ``eager`` only traces: for tests)."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True  # a failed compilation runs the module eagerly (logged)
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, SHAPES_PER_MODULE)
    module.compile(backend=backend, dynamic=False)


def is_compiled(module: nn.Module) -> bool:
    return getattr(module, "_compiled_call_impl", None) is not None


def uncompile(module: nn.Module) -> None:
    """Undo ``compile_in_place`` (``nn.Module.compile`` keeps the compiled call in ``_compiled_call_impl``)."""
    module._compiled_call_impl = None
