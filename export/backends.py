"""Backend choice per pipeline module: TensorRT, ONNX Runtime or torch, each choice with its reason.

``auto`` takes TensorRT where the package, a CUDA device and an engine matching the weights, GPU, TensorRT
version and precision are all present; then ONNX Runtime (CUDA provider on a CUDA pipeline, else CPU) where the
ONNX export matches the weights; then torch. Naming a backend starts the chain there. A missing, broken or
mismatched artifact moves on to the next backend with a logged reason, never an exception.

    choices = apply_backends(pipe, backend="auto", engine_dir=Path("engines"))
    choices["base_unet"].reason  # 'tensorrt: package not installed -> onnxruntime (CPUExecutionProvider)'
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from torch import nn

from core.errors import ExportError
from export.engine import TensorRTEngine, TensorRTEnvironment
from export.manifest import Manifest, ModuleRecord, dtype_name, weights_sha256
from export.specs import SPECS, Geometry, ModuleSpec
from export.tensorrt_build import Precision, engine_key, engine_path, module_precision
from export.torch_compile import compilable, compile_in_place, is_compiled, uncompile
from export.wrappers import WRAPPERS, AcceleratedModule, Runner

if TYPE_CHECKING:
    from models.pipeline_videogen import VideoGenPipeline

logger = logging.getLogger(__name__)

BackendName = Literal["auto", "tensorrt", "onnxruntime", "torch"]
BACKENDS: tuple[str, ...] = ("auto", "tensorrt", "onnxruntime", "torch")
CHAIN = ("tensorrt", "onnxruntime", "torch")
# The modules each pipeline stage runs (VideoGenPipeline.stages); the text encoder serves every stage but is
# counted where it runs first.
STAGE_MODULES = {
    "reference": ("text_encoder", "reference_unet", "vae_decoder"),
    "base": ("base_unet",),
    "super_resolution": ("sr_unet",),
    "temporal_upsampling": ("temporal_upsampler",),
    "decode": ("video_decoder",),
}


@dataclass(frozen=True)
class BackendChoice:
    """What runs one module and why. ``backend`` is ``tensorrt``, ``onnxruntime`` or ``torch``."""

    module: str
    backend: str
    reason: str
    detail: str = ""  # provider, engine file or torch settings

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class _Skip:
    reason: str
    warn: bool = False  # an artifact is there but unusable: worth a warning, not just a note


@dataclass(frozen=True)
class _Export:
    record: ModuleRecord
    manifest: Manifest
    directory: Path


class _Context:
    """Per-module facts, computed once: the manifest record and the hash of the loaded weights."""

    def __init__(
        self, spec: ModuleSpec, module: nn.Module, engine_dir: Path | None, manifest: Manifest | str | None
    ) -> None:
        self.spec, self.module, self.engine_dir, self.manifest = spec, module, engine_dir, manifest
        self._hash: str | None = None

    @property
    def weights_hash(self) -> str:
        if self._hash is None:
            self._hash = weights_sha256(self.module)
        return self._hash

    def exported(self) -> _Export | _Skip:
        """The export of this module if it matches the loaded weights, else why not."""
        if self.engine_dir is None:
            return _Skip("no engine directory")
        if not isinstance(self.manifest, Manifest):
            return _Skip(self.manifest or f"no manifest in {self.engine_dir}", warn=self.manifest is not None)
        record = self.manifest.modules.get(self.spec.name)
        if record is None:
            return _Skip(f"{self.spec.name} is not exported in {self.engine_dir}")
        if not record.matches(self.weights_hash):
            return _Skip(
                f"the export of {self.spec.name} is from other weights (sha256 {self.weights_hash[:12]} here,"
                f" {record.weights_sha256['float32'][:12]} exported)",
                warn=True,
            )
        return _Export(record, self.manifest, self.engine_dir)


def _tensorrt(ctx: _Context, env: TensorRTEnvironment, precision: Precision | None) -> Runner | _Skip:
    if env.unavailable:
        return _Skip(env.unavailable)
    found = ctx.exported()
    if isinstance(found, _Skip):
        return found
    wanted = precision or Precision.for_dtype(dtype_name(ctx.module.dtype))
    wanted = module_precision(ctx.spec.name, wanted)
    source = found.record.weights_sha256["float32"]
    key = engine_key(ctx.spec.name, source, env.gpu or "", env.version or "", wanted)
    plan = engine_path(found.directory, ctx.spec.name, key)
    if key not in found.manifest.engines or not plan.is_file():
        others = [e for e in found.manifest.engines.values() if e.module == ctx.spec.name]
        for e in others:
            here = {"weights": source, "GPU": env.gpu, "TensorRT": env.version, "precision": str(wanted)}
            built = {
                "weights": e.weights_sha256,
                "GPU": e.gpu,
                "TensorRT": e.tensorrt,
                "precision": e.precision,
            }
            diff = [f"{k} {built[k]} (here {here[k]})" for k in here if built[k] != here[k]]
            if diff:
                return _Skip(f"engine {Path(e.file).name} was built for {', '.join(diff)}", warn=True)
        return _Skip(f"no {wanted} engine for this GPU (build one: videogen export --format tensorrt)")
    try:
        engine = TensorRTEngine(plan, ctx.module.device)
    except ExportError as exc:
        return _Skip(f"engine {plan.name} does not load: {exc}", warn=True)
    if set(engine.inputs) != set(ctx.spec.input_names):
        return _Skip(f"engine {plan.name} has inputs {sorted(engine.inputs)}", warn=True)
    return engine


def _onnxruntime(ctx: _Context, threads: int | None) -> Runner | _Skip:
    found = ctx.exported()
    if isinstance(found, _Skip):
        return found
    path = found.directory / found.record.onnx
    if not path.is_file():
        return _Skip(f"{path} is missing", warn=True)
    try:
        from export.ort_session import OrtRunner  # onnxruntime: imported only where a graph is to run
    except ImportError as exc:
        return _Skip(f"onnxruntime is not installed ({exc})")
    try:
        runner = OrtRunner(path, ctx.module.device, threads=threads)
    except ExportError as exc:
        return _Skip(str(exc), warn=True)
    if set(runner.inputs) != set(ctx.spec.input_names):
        return _Skip(f"{path.name} has inputs {sorted(runner.inputs)}", warn=True)
    return runner


def choose(
    spec: ModuleSpec,
    module: nn.Module,
    backend: str,
    engine_dir: Path | None,
    manifest: Manifest | str | None,
    env: TensorRTEnvironment,
    precision: Precision | None = None,
    threads: int | None = None,
    compile_backend: str | None = None,
    note: str = "",
) -> tuple[BackendChoice, Runner | None]:
    """The backend for one torch ``module`` and, unless torch, its ready runner. ``manifest`` is the engine
    directory's manifest, or why it could not be read. A module that stays on torch is compiled in place with
    ``compile_backend`` (``inductor``) where ``torch.compile`` helps it (``export.torch_compile``). ``note``
    starts the reason (why the chain starts where it does)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} must be one of {BACKENDS}")
    ctx = _Context(spec, module, engine_dir, manifest)
    chain = CHAIN if backend == "auto" else CHAIN[CHAIN.index(backend) :]
    skipped: list[str] = [note] if note else []
    warn = False
    for name in chain:
        if name == "torch":
            result: Runner | _Skip | None = None
        elif name == "tensorrt":
            result = _tensorrt(ctx, env, precision)
        else:
            result = _onnxruntime(ctx, threads)
        if isinstance(result, _Skip):
            skipped.append(f"{name}: {result.reason}")
            warn = warn or result.warn
            continue
        label = "torch" if result is None else result.name
        if result is None and compile_backend is not None and compilable(spec):
            compile_in_place(module, compile_backend)
        detail = _torch_detail(module) if result is None else _runner_detail(result)
        reason = f"{'; '.join(skipped)} -> {label}" if skipped else f"{label}: {detail}"
        choice = BackendChoice(spec.name, name, reason, detail)
        log = logger.warning if warn or (backend != "auto" and len(skipped) > bool(note)) else logger.info
        log("%s runs on %s", spec.name, reason)
        return choice, result
    raise AssertionError("the chain always ends in torch")


def _runner_detail(runner: Runner) -> str:
    if isinstance(runner, TensorRTEngine):
        return runner.path.name
    return runner.name


def _torch_detail(module: nn.Module) -> str:
    compiled = ", torch.compile" if is_compiled(module) else ""
    return f"{dtype_name(module.dtype)} on {module.device}{compiled}"


def apply_backends(
    pipe: VideoGenPipeline,
    backend: str = "auto",
    engine_dir: Path | str | None = None,
    modules: list[str] | None = None,
    precision: Precision | None = None,
    tensorrt_env: TensorRTEnvironment | None = None,
    threads: int | None = None,
    compile_backend: str | None = None,
    torch_reasons: dict[str, str] | None = None,
) -> dict[str, BackendChoice]:
    """Swap ``pipe``'s heavy components for accelerated wrappers where a backend fits; return every choice.

    Args:
        backend: ``auto``, ``tensorrt``, ``onnxruntime`` or ``torch`` (where the chain starts).
        engine_dir: the output of ``videogen export`` (None: everything stays in torch).
        modules: subset of ``SPECS`` names (default: every component the pipeline has).
        precision: TensorRT engine precision to look for (default: from each module's dtype).
        tensorrt_env: what TensorRT can do here (default: probed on the pipeline's device).
        threads: ONNX Runtime intra-op threads on CPU (default: one per physical core).
        compile_backend: ``torch.compile`` backend for the modules left on torch (``inductor``; None: eager).
        torch_reasons: modules to keep on torch whatever ``backend`` says, each with the reason to report.

    Calling it again re-decides from the original torch modules. A swapped pipeline is for inference; its
    ``model_index.json`` entries still name the torch classes.
    """
    directory = Path(engine_dir) if engine_dir is not None else None
    manifest: Manifest | str | None = None
    if directory is not None:
        try:
            manifest = Manifest.read(directory)
        except ExportError as exc:
            manifest = str(exc)
    geometry = Geometry.of(pipe)
    choices = {}
    for name in modules or list(SPECS):
        spec = SPECS[name]
        current = getattr(pipe, spec.component, None)
        if current is None:
            continue
        module = current.torch_module if isinstance(current, AcceleratedModule) else current
        uncompile(module)  # re-decided from scratch
        env = tensorrt_env or TensorRTEnvironment.probe(module.device)
        note = (torch_reasons or {}).get(name, "")
        chain_start = "torch" if note else backend
        choice, runner = choose(
            spec, module, chain_start, directory, manifest, env, precision, threads, compile_backend, note
        )
        replacement = module if runner is None else WRAPPERS[spec.kind](module, runner, spec, geometry)
        # Bypass DiffusionPipeline.__setattr__, which would rewrite the saved config with the wrapper's class.
        object.__setattr__(pipe, spec.component, replacement)
        choices[name] = choice
    return choices


def select_backends(
    pipe: VideoGenPipeline,
    backend: str = "auto",
    engine_dir: Path | str | None = None,
    cache_dir: Path | str | None = None,
    threads: int | None = None,
    compile_backend: str | None = None,
) -> dict[str, BackendChoice]:
    """The backend of every module, as a worker and ``videogen generate`` choose it; ``apply_backends`` does it.

    On a CPU, ``auto`` runs on ONNX Runtime only the modules it measured faster there
    (``export.cache.CPU_ONNXRUNTIME_MODULES``); the rest stay on torch with that reason. With no ``engine_dir``
    and a ``cache_dir`` (``<data dir>/engines``), ``auto`` on a CPU and ``onnxruntime`` anywhere first export
    what they will run into the cache (``export.cache.ensure_export``: once per weights, reused after). The cache
    holds fp32 graphs, so it is skipped (logged) for a pipeline loaded in another precision; on a GPU, ``auto``
    uses only what ``engine_dir`` holds (TensorRT engines are built per card: ``videogen export``).
    """
    from export.cache import CPU_ONNXRUNTIME_MODULES, ensure_export, exportable_modules

    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} must be one of {BACKENDS}")
    for spec in SPECS.values():  # a second call re-decides from the torch modules (and hashes, exports those)
        current = getattr(pipe, spec.component, None)
        if isinstance(current, AcceleratedModule):
            object.__setattr__(pipe, spec.component, current.torch_module)
    on_cpu = pipe.device.type == "cpu"
    modules = exportable_modules(pipe)
    torch_reasons = {}
    if backend == "auto" and on_cpu:
        torch_reasons = {
            m: "onnxruntime: slower than torch on CPU for this module (docs/performance.md)"
            for m in modules
            if m not in CPU_ONNXRUNTIME_MODULES
        }
    wanted = [m for m in modules if m not in torch_reasons]
    if (
        engine_dir is None
        and cache_dir is not None
        and wanted
        and (backend == "onnxruntime" or (backend == "auto" and on_cpu))
    ):
        dtypes = {dtype_name(getattr(pipe, SPECS[m].component).dtype) for m in wanted}
        if dtypes == {"float32"}:
            engine_dir = ensure_export(pipe, Path(cache_dir), wanted)
        else:
            logger.info(
                "engine cache skipped: the pipeline is %s and the cached graphs are float32",
                "+".join(sorted(dtypes)),
            )
    return apply_backends(
        pipe,
        backend,
        engine_dir,
        threads=threads,
        compile_backend=compile_backend,
        torch_reasons=torch_reasons,
    )


def stage_backends(choices: dict[str, BackendChoice]) -> dict[str, str]:
    """Backend per pipeline stage, e.g. ``{"base": "tensorrt", "reference": "onnxruntime+torch", ...}``."""
    return {
        stage: "+".join(sorted({choices[m].backend for m in modules if m in choices} or {"torch"}))
        for stage, modules in STAGE_MODULES.items()
    }
