"""Build TensorRT engines from an export's ONNX files (TensorRT 10 Python API, imported lazily).

One engine per module, with one optimization profile from the module's shape ranges, the precision flag asked
for, and a timing cache shared by every build in the directory (a rebuild of a similar graph then skips most
kernel timing). Engines are cached by a key over the source weights hash, the GPU model, the TensorRT version
and the precision, so a worker never runs a stale engine and an existing engine is never rebuilt.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from core.errors import ExportError
from export.engine import TensorRTEnvironment, import_tensorrt
from export.manifest import EngineRecord, Manifest, ModuleRecord
from export.specs import SPECS

logger = logging.getLogger(__name__)

ENGINE_DIR = "tensorrt"
TIMING_CACHE = "timing.cache"
DEFAULT_WORKSPACE_GIB = 8.0


class Precision(enum.StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"

    @classmethod
    def for_dtype(cls, dtype_name: str) -> Precision:
        """The engine precision a pipeline loaded in ``dtype_name`` (``float16``...) asks for."""
        return {"float16": cls.FP16, "bfloat16": cls.BF16}.get(dtype_name, cls.FP32)


def module_precision(module: str, requested: Precision) -> Precision:
    """fp16 where asked for, except in modules that are not fp16-safe (the VAE decoders): those stay fp32."""
    if requested is Precision.FP16 and not SPECS[module].fp16_safe:
        return Precision.FP32
    return requested


def engine_key(
    module: str, weights_sha256: str, gpu: str, tensorrt_version: str, precision: Precision
) -> str:
    """The engine cache key: an engine fits exactly this module, weights, GPU model, TensorRT and precision."""
    fields = {
        "module": module,
        "weights": weights_sha256,
        "gpu": gpu,
        "tensorrt": tensorrt_version,
        "precision": str(precision),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]


def engine_path(out_dir: Path, module: str, key: str) -> Path:
    return out_dir / ENGINE_DIR / f"{module}-{key}.plan"


def build_engine(
    onnx_path: Path,
    plan_path: Path,
    profile: dict[str, list[list[int]]],
    precision: Precision,
    timing_cache: Path,
    workspace_gib: float = DEFAULT_WORKSPACE_GIB,
) -> None:
    """Parse ``onnx_path``, build a serialized engine with one optimization profile and write ``plan_path``.

    ``profile`` maps each input to its [min, opt, max] shapes. The timing cache is read before and merged back
    after the build. Raises ``ExportError`` with the parser's or builder's messages on failure.
    """
    trt = import_tensorrt()
    trt_logger = trt.Logger(trt.Logger.WARNING)
    trt.init_libnvinfer_plugins(trt_logger, "")
    builder = trt.Builder(trt_logger)
    network = builder.create_network(0)  # TensorRT 10: every network has an explicit batch dimension
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse_from_file(str(onnx_path)):  # by path, so external weight data is found beside it
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * 2**30))
    if precision is Precision.FP16:
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision is Precision.BF16:
        config.set_flag(trt.BuilderFlag.BF16)
    opt_profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in profile.items():
        opt_profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(opt_profile)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(plan_path, bytes(serialized))
    _write_atomic(timing_cache, bytes(config.get_timing_cache().serialize()))


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build_engines(
    out_dir: Path,
    precision: Precision,
    modules: list[str] | None = None,
    device: str = "cuda",
    force: bool = False,
    workspace_gib: float = DEFAULT_WORKSPACE_GIB,
) -> list[EngineRecord]:
    """Build (or reuse, by key) an engine for each exported module listed in ``out_dir``'s manifest."""
    env = TensorRTEnvironment.probe(device)
    if env.unavailable:
        raise ExportError(f"cannot build TensorRT engines here: {env.unavailable}")
    manifest = Manifest.read(out_dir)
    names = list(manifest.modules) if modules is None else modules
    records = []
    for name in names:
        if name not in manifest.modules:
            raise ExportError(f"{name} is not exported in {out_dir}; export it to ONNX first")
        records.append(
            _build_one(manifest, manifest.modules[name], out_dir, env, precision, force, workspace_gib)
        )
        manifest.write(out_dir)
    return records


def _build_one(
    manifest: Manifest,
    record: ModuleRecord,
    out_dir: Path,
    env: TensorRTEnvironment,
    requested: Precision,
    force: bool,
    workspace_gib: float,
) -> EngineRecord:
    precision = module_precision(record.name, requested)
    source_hash = record.weights_sha256["float32"]
    key = engine_key(record.name, source_hash, env.gpu or "", env.version or "", precision)
    plan = engine_path(out_dir, record.name, key)
    existing = manifest.engines.get(key)
    if not force and existing is not None and existing.profile == record.profile and plan.is_file():
        logger.info("%s: engine %s is current, kept", record.name, plan.name)
        return existing
    if precision is not requested:
        logger.info("%s: building in %s (not fp16-safe)", record.name, precision)
    start = time.perf_counter()
    build_engine(
        out_dir / record.onnx,
        plan,
        record.profile,
        precision,
        out_dir / ENGINE_DIR / TIMING_CACHE,
        workspace_gib,
    )
    seconds = time.perf_counter() - start
    logger.info("%s: built %s (%s) in %.0f s", record.name, plan.name, precision, seconds)
    engine = EngineRecord(
        key=key,
        module=record.name,
        file=str(plan.relative_to(out_dir)),
        precision=str(precision),
        weights_sha256=source_hash,
        gpu=env.gpu or "",
        tensorrt=env.version or "",
        profile=record.profile,
        build_seconds=round(seconds, 1),
    )
    manifest.engines[key] = engine
    return engine
