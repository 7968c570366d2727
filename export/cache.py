"""The automatic ONNX export cache: ``<data dir>/engines/<weights key>/``, written on a worker's first start and
reused by every later one with the same weights.

The key is a SHA-256 over the fp32 weights of every exportable module (``pipeline_key``), so other weights get
another folder and never load a stale graph. Inside a folder, each module's export is checked before use: its
manifest record, the opset and shape ranges this code exports with, its weights hash, and the SHA-256 of every
file it wrote (a truncated or overwritten ``.onnx`` is found here, not by ONNX Runtime). A module that fails a
check is exported again, with the reason logged; an unreadable manifest, or one written by other torch / onnx /
onnxruntime versions, empties the folder first. Checking reads the files but imports no ``onnx``: a second start
costs a few hashes, not an export.

Which modules go to ONNX Runtime under ``auto`` on a CPU is data, not timed at start: ``CPU_ONNXRUNTIME_MODULES``
(defined in ``export.prewarm``, which must not import torch), from ``bench/backends.py`` on the demo model
(docs/performance.md names the run). Each folder also records the model folder it served (``source.json``) so that
a cold ``videogen generate`` can open its ONNX Runtime sessions while torch imports (``export.prewarm``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ExportError
from export import prewarm
from export.manifest import OPSET, Manifest, file_sha256, package_versions, weights_sha256
from export.prewarm import CACHE_DIRNAME, CPU_ONNXRUNTIME_MODULES  # noqa: F401  (re-exported, see below)
from export.specs import SPECS, Geometry, ShapeRanges

if TYPE_CHECKING:
    from models.pipeline_videogen import VideoGenPipeline

logger = logging.getLogger(__name__)

# CACHE_DIRNAME and CPU_ONNXRUNTIME_MODULES live in the torch-free export.prewarm, which finds the cache and opens
# its sessions before torch is imported; select_backends reads CPU_ONNXRUNTIME_MODULES from here.
KEY_CHARS = 16  # hex digits of the weights key in the folder name
# The packages whose versions change what an export contains (a new torch traces differently).
EXPORT_PACKAGES = ("torch", "onnx", "onnxruntime")


def exportable_modules(pipe: VideoGenPipeline) -> list[str]:
    """The ``SPECS`` names whose component ``pipe`` has, in ``SPECS`` order."""
    return [name for name, spec in SPECS.items() if getattr(pipe, spec.component, None) is not None]


def module_hashes(pipe: VideoGenPipeline) -> dict[str, str]:
    """SHA-256 of each exportable module's weights as loaded (``export.manifest.weights_sha256``)."""
    return {name: weights_sha256(getattr(pipe, SPECS[name].component)) for name in exportable_modules(pipe)}


def pipeline_key(hashes: dict[str, str]) -> str:
    """One hex key for a pipeline's weights: SHA-256 over ``module:hash`` lines, first ``KEY_CHARS`` digits."""
    text = "".join(f"{name}:{hashes[name]}\n" for name in sorted(hashes))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_CHARS]


def cache_root(data_dir: Path | str) -> Path:
    return Path(data_dir) / CACHE_DIRNAME


def stale_reasons(
    directory: Path, pipe: VideoGenPipeline, modules: list[str], hashes: dict[str, str]
) -> tuple[str | None, dict[str, str]]:
    """Why the export in ``directory`` cannot serve ``pipe``: (a reason for the whole folder or None,
    {module: reason} for each of ``modules`` to export again). Both empty: every module is current."""
    try:
        manifest = Manifest.read(directory)
    except ExportError as exc:
        if not (directory / "manifest.json").exists():
            return None, {m: "not exported yet" for m in modules}
        return f"unreadable manifest ({exc})", {m: "unreadable manifest" for m in modules}
    now = package_versions()
    changed = [
        f"{p} {manifest.versions.get(p)} -> {now[p]}"
        for p in EXPORT_PACKAGES
        if manifest.versions.get(p) != now[p]
    ]
    if changed:
        reason = f"exported with other versions ({', '.join(changed)})"
        return reason, {m: reason for m in modules}
    ranges, geometry = ShapeRanges.defaults(pipe), Geometry.of(pipe)
    reasons = {}
    for name in modules:
        reason = _module_reason(directory, manifest, name, hashes[name], ranges, geometry)
        if reason is not None:
            reasons[name] = reason
    return None, reasons


def _module_reason(
    directory: Path, manifest: Manifest, name: str, weights: str, ranges: ShapeRanges, geometry: Geometry
) -> str | None:
    record = manifest.modules.get(name)
    if record is None:
        return "not exported yet"
    if record.opset != OPSET:
        return f"opset {record.opset}, this code exports {OPSET}"
    if record.profile != SPECS[name].profile(ranges, geometry):
        return "exported for other shape ranges"
    if not record.matches(weights):
        return "exported from other weights"
    if not record.files_sha256:
        return "no file checksums in the manifest (an older export)"
    for relative, expected in record.files_sha256.items():
        path = directory / relative
        if not path.is_file():
            return f"{relative} is missing"
        if file_sha256(path) != expected:
            return f"{relative} is corrupt (its SHA-256 differs from the manifest's)"
    return None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One process at a time checks and writes a cache folder (workers of one host start together)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with (directory.parent / f".{directory.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_export(pipe: VideoGenPipeline, root: Path, modules: list[str]) -> Path:
    """The cache folder under ``root`` holding a current ONNX export of ``modules`` of ``pipe`` (fp32), exporting
    what is missing, stale or corrupt (each reason logged). An export that fails is logged as a warning; the
    modules it did not write are then absent from the manifest, and the caller runs them on torch."""
    hashes = module_hashes(pipe)
    directory = root / pipeline_key(hashes)
    modules = [m for m in modules if m in hashes]
    with _locked(directory):
        folder_reason, reasons = stale_reasons(directory, pipe, modules, hashes)
        if folder_reason is not None:
            logger.warning("engine cache %s: %s; exporting again", directory, folder_reason)
            shutil.rmtree(directory, ignore_errors=True)
        if not reasons:
            logger.info("engine cache %s is current for %s", directory, ", ".join(modules))
            prewarm.remember(directory, getattr(pipe, "name_or_path", None))
            return directory
        for name, reason in reasons.items():
            log = logger.info if reason == "not exported yet" else logger.warning
            log("engine cache %s: %s %s; exporting it", directory, name, reason)
        from export.onnx_export import export_pipeline  # imports onnx (seconds): only when exporting

        started = time.perf_counter()
        try:
            export_pipeline(pipe, directory, modules=list(reasons), force=True)
        except (ExportError, RuntimeError, OSError, ValueError) as exc:
            logger.warning(
                "engine cache %s: export failed (%s); what it did not write runs on torch", directory, exc
            )
            return directory
        logger.info(
            "engine cache %s: exported %s in %.1f s",
            directory,
            ", ".join(reasons),
            time.perf_counter() - started,
        )
        prewarm.remember(directory, getattr(pipe, "name_or_path", None))
    return directory
