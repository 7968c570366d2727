"""Export a pipeline's heavy modules to ONNX (legacy TorchScript exporter, opset 17) and check each one.

Why these choices (measured on CPU, torch 2.13, onnxruntime 1.32; see docs/performance.md):

- The legacy exporter (``dynamo=False``) keeps batch, frames and latent H/W dynamic through the 3D UNet; the
  dynamo exporter broke at ``repeat_interleave(output_size=...)`` with a dynamic frame axis.
- Opset 17: ``GridSample`` (the flow warp, 4D) needs >= 16, TensorRT has reported wrong ``GridSample`` results at
  20 and failed on opset-21 ``GroupNormalization``.

Every exported graph is checked with ``onnx.checker`` and then run in ONNX Runtime against torch at two corners
of its shape ranges; the relative errors go into the manifest.
"""

from __future__ import annotations

import logging
import shutil
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import onnx
import torch

from core.errors import ExportError
from export.manifest import OPSET, Manifest, ModuleRecord, dtype_name, file_sha256, weights_hashes
from export.ort_session import OrtRunner
from export.specs import SPECS, Geometry, ModuleSpec, ShapeRanges, spec_sizes

if TYPE_CHECKING:
    from models.pipeline_videogen import VideoGenPipeline

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
# Protobuf files cannot exceed 2 GiB; store weights beside the graph well before that.
EXTERNAL_DATA_BYTES = 512 * 2**20
PARITY_TOLERANCE = 1e-3  # relative: max |onnx - torch| / max |torch|


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected| (0 where both are 0)."""
    scale = expected.abs().max().item()
    diff = (actual.float() - expected.float()).abs().max().item()
    return diff / scale if scale > 0 else diff


def export_module(
    spec: ModuleSpec,
    component: torch.nn.Module,
    geometry: Geometry,
    ranges: ShapeRanges,
    out_dir: Path,
    opset: int = OPSET,
    external_data_bytes: int = EXTERNAL_DATA_BYTES,
) -> ModuleRecord:
    """Export one fp32 module to ``out_dir/onnx/<name>.onnx`` and return its manifest record.

    The module is traced at the ``opt`` corner of its ranges, on whatever device it is.
    """
    if component.dtype != torch.float32:
        raise ExportError(
            f"{spec.name} is {component.dtype}: export from fp32 weights (TensorRT lowers precision itself)"
        )
    onnx_dir = out_dir / ONNX_DIR
    onnx_dir.mkdir(parents=True, exist_ok=True)
    path = onnx_dir / f"{spec.name}.onnx"
    for stale in (path, path.with_suffix(".onnx.data")):
        stale.unlink(missing_ok=True)
    scratch = onnx_dir / f".{spec.name}.tracing"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    hashes = weights_hashes(component)
    sizes = spec_sizes(spec, ranges, geometry, which=1)
    sample = spec.sample_inputs(sizes, geometry, torch.Generator().manual_seed(0))
    start = time.perf_counter()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about shape-dependent Python branches
            torch.onnx.export(
                spec.export_module(component).eval(),
                tuple(x.to(component.device) for x in sample.values()),
                str(scratch / "model.onnx"),
                input_names=spec.input_names,
                output_names=spec.output_names,
                dynamic_axes=spec.dynamic_axes(),
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        external = _finish_onnx_file(scratch / "model.onnx", path, external_data_bytes)
        files = [path, path.with_suffix(".onnx.data")] if external else [path]
        checksums = {str(f.relative_to(out_dir)): file_sha256(f) for f in files}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("exported %s to %s in %.1f s", spec.name, path, time.perf_counter() - start)
    return ModuleRecord(
        name=spec.name,
        component=spec.component,
        component_class=type(component).__name__,
        onnx=str(path.relative_to(out_dir)),
        external_data=external,
        opset=opset,
        inputs=[{"name": t.name, "dtype": dtype_name(t.dtype), "dims": list(t.dims)} for t in spec.inputs],
        outputs=[{"name": t.name, "dtype": dtype_name(t.dtype), "dims": list(t.dims)} for t in spec.outputs],
        dynamic_axes={k: {str(i): d for i, d in v.items()} for k, v in spec.dynamic_axes().items()},
        profile=spec.profile(ranges, geometry),
        weights_sha256=hashes,
        files_sha256=checksums,
    )


def _finish_onnx_file(traced: Path, path: Path, external_data_bytes: int) -> bool:
    """Write the traced graph to ``path``, its weights in ``<name>.onnx.data`` when they exceed
    ``external_data_bytes``, and run ``onnx.checker``; True if external data is used.

    ``traced`` is the exporter's output in a scratch folder (over 2 GiB the exporter itself writes one file per
    weight beside it).
    """
    size = sum(f.stat().st_size for f in traced.parent.iterdir() if f.is_file())
    external = size > external_data_bytes
    model = onnx.load(str(traced), load_external_data=True)
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=external,
        all_tensors_to_one_file=True,
        location=path.name + ".data",
        size_threshold=1024,
    )
    try:
        onnx.checker.check_model(str(path), full_check=False)  # by path: works with external data
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{path} fails onnx.checker: {exc}") from exc
    return external


def check_parity(
    spec: ModuleSpec,
    component: torch.nn.Module,
    record: ModuleRecord,
    geometry: Geometry,
    ranges: ShapeRanges,
    out_dir: Path,
    tolerance: float = PARITY_TOLERANCE,
) -> dict[str, Any]:
    """Run the ONNX graph in ONNX Runtime (CPU) and torch on fresh random inputs at the min and max corners of
    the ranges; raise ``ExportError`` if the relative error exceeds ``tolerance``."""
    runner = OrtRunner(out_dir / record.onnx, providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(1)
    adapter = spec.export_module(component).eval()
    checks = []
    for which in (0, 2):
        sizes = spec_sizes(spec, ranges, geometry, which)
        feeds = spec.sample_inputs(sizes, geometry, generator)
        with torch.no_grad():
            expected = adapter(*(x.to(component.device) for x in feeds.values()))
        actual = runner.run(feeds)[spec.output_names[0]]
        err = relative_error(actual, expected.cpu())
        checks.append({"sizes": sizes, "relative_error": err})
        if not err <= tolerance:
            raise ExportError(
                f"{spec.name}: ONNX Runtime differs from torch by {err:.2e} (relative) at {sizes};"
                f" tolerance {tolerance:.0e}"
            )
    return {"tolerance": tolerance, "checks": checks}


def export_pipeline(
    pipe: VideoGenPipeline,
    out_dir: Path,
    ranges: ShapeRanges | None = None,
    modules: list[str] | None = None,
    opset: int = OPSET,
    verify: bool = True,
    force: bool = False,
    external_data_bytes: int = EXTERNAL_DATA_BYTES,
) -> Manifest:
    """Export ``modules`` (default: all of ``SPECS``) of ``pipe`` into ``out_dir`` and write the manifest.

    A module whose ONNX file is already there, from the same weights and shape ranges, is kept unless ``force``.
    """
    names = list(SPECS) if modules is None else modules
    unknown = sorted(set(names) - set(SPECS))
    if unknown:
        raise ValueError(f"unknown modules {unknown}; choose from {sorted(SPECS)}")
    ranges = ranges or ShapeRanges.defaults(pipe)
    geometry = Geometry.of(pipe)
    previous = Manifest.read_or_none(out_dir)
    manifest = Manifest(opset=opset, shape_ranges=ranges.as_dict())
    if previous is not None:
        manifest.modules = dict(previous.modules)
        manifest.engines = dict(previous.engines)
    for name in names:
        spec = SPECS[name]
        component = getattr(pipe, spec.component)
        old = manifest.modules.get(name)
        if (
            not force
            and old is not None
            and _is_current(old, component, spec, ranges, geometry, out_dir, opset)
        ):
            logger.info("%s: ONNX export is current, kept", name)
            continue
        record = export_module(spec, component, geometry, ranges, out_dir, opset, external_data_bytes)
        if verify:
            record.parity = check_parity(spec, component, record, geometry, ranges, out_dir)
        manifest.modules[name] = record
        # Engines built from an older export of this module are stale.
        manifest.engines = {k: e for k, e in manifest.engines.items() if e.module != name}
        manifest.write(out_dir)
    manifest.write(out_dir)
    return manifest


def _is_current(
    record: ModuleRecord,
    component: torch.nn.Module,
    spec: ModuleSpec,
    ranges: ShapeRanges,
    geometry: Geometry,
    out_dir: Path,
    opset: int,
) -> bool:
    from export.manifest import weights_sha256

    return (
        (out_dir / record.onnx).is_file()
        and record.opset == opset
        and record.profile == spec.profile(ranges, geometry)
        and record.matches(weights_sha256(component))
    )
