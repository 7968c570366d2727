"""ONNX Runtime sessions opened early, for a cold ``videogen generate``: torch-free, so it starts before torch.

A cold CLI run spends ~5 s importing torch, diffusers and transformers on one core, then ~1 s opening the ONNX
Runtime sessions of the engine cache (``export.cache``), which releases the GIL. ``start`` opens those sessions in
a background thread while the imports run: it finds the cache folder that the model folder's weight files were
last served from (``source.json``, written by ``export.cache.ensure_export``) and opens, in that folder, the
sessions ``auto`` (or ``onnxruntime``) would open. Nothing is trusted from it: the backend choice still hashes the
loaded weights and checks every file as before, and ``take`` hands a session over only for the same file, unchanged
since it was opened (size, mtime, inode), with the same options; otherwise ``export.ort_session.OrtRunner`` opens
its own. A wrong guess costs the idle core only.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CACHE_DIRNAME = "engines"  # the engine cache, under the data dir (export.cache.cache_root)
SOURCE_FILE = "source.json"  # in a cache folder: the model folder and weight files it was last served from
CPU_PROVIDERS = ("CPUExecutionProvider",)

# Modules that ONNX Runtime (CPU provider) ran faster than torch eager in
# `bench/backends.py --preset demo --threads 1` (2-core CPU, 2026-12-02; docs/performance.md, "Backends by
# default"): 1.5-1.8x. The temporal upsampler (0.82x) and the video decoder (0.26x) stay on torch under `auto`.
CPU_ONNXRUNTIME_MODULES: frozenset[str] = frozenset(
    {"base_unet", "sr_unet", "reference_unet", "vae_decoder", "text_encoder"}
)


def session_options(threads: int | None) -> Any:  # -> onnxruntime.SessionOptions
    """The options every CPU/CUDA session of this project is opened with (``OrtRunner`` and ``start``)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle pool threads sleep instead of spinning: between graph calls torch runs the scheduler and other
    # stages in this process, and spinning threads took their cores (tiny whole video: 0.96x -> 1.19x).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads is not None:
        options.intra_op_num_threads = threads
    return options


def model_folder(model: str | Path) -> Path | None:
    """The folder ``models.loading.resolve_model`` loads ``model`` from, found without importing ``models``
    (``demo``: the shipped weights); None for a preset name or anything that is not a folder."""
    if str(model) == "demo":
        spec = importlib.util.find_spec("models")
        if spec is None or spec.origin is None:
            return None
        path = Path(spec.origin).resolve().parent.parent / "weights" / "demo"
    else:
        path = Path(model).expanduser()
    return path.resolve() if path.is_dir() else None


def weight_files(folder: Path) -> dict[str, list[int]]:
    """Each weight file under ``folder`` with its size and mtime: a cheap fingerprint, not a hash."""
    out = {}
    for path in sorted(folder.rglob("*.safetensors")):
        st = path.stat()
        out[str(path.relative_to(folder))] = [st.st_size, st.st_mtime_ns]
    return out


def remember(directory: Path, folder: str | Path | None) -> None:
    """Record in cache folder ``directory`` that the model in ``folder`` is served from it (best effort)."""
    if not folder or not Path(folder).is_dir():
        return
    folder = Path(folder).resolve()
    try:
        text = json.dumps({"model": str(folder), "weights": weight_files(folder)}, sort_keys=True)
        path = directory / SOURCE_FILE
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
    except OSError as exc:
        logger.debug("engine cache %s: source not recorded (%s)", directory, exc)


def find(root: Path, folder: Path) -> Path | None:
    """The cache folder under ``root`` whose ``source.json`` names ``folder`` with its weight files unchanged."""
    try:
        candidates = [p for p in root.iterdir() if (p / SOURCE_FILE).is_file()]
    except OSError:
        return None
    weights = None
    for directory in candidates:
        try:
            source = json.loads((directory / SOURCE_FILE).read_text())
        except (OSError, ValueError):
            continue
        if source.get("model") != str(folder):
            continue
        weights = weight_files(folder) if weights is None else weights
        if source.get("weights") == weights:
            return directory
    return None


def _stat(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


class _Opened:
    def __init__(self, stat: tuple[int, int, int], threads: int | None) -> None:
        self.stat, self.threads = stat, threads
        self.session: Any = None
        self.done = threading.Event()


_lock = threading.Lock()
_opened: dict[str, _Opened] = {}


def start(data_dir: str | Path, model: str | Path, backend: str, threads: int | None = None) -> list[str]:
    """Open in the background the CPU sessions a CPU pipeline of ``model`` under ``backend`` will run from the
    engine cache in ``<data_dir>/engines``; the modules opened (none where nothing fits)."""
    if backend not in ("auto", "onnxruntime"):
        return []
    folder = model_folder(model)
    directory = find(Path(data_dir) / CACHE_DIRNAME, folder) if folder is not None else None
    if directory is None:
        return []
    try:
        records = json.loads((directory / "manifest.json").read_text())["modules"]
        import onnxruntime  # noqa: F401  (imported here, not in the thread: no import beside the main thread's)
    except (OSError, ValueError, KeyError, TypeError, ImportError):
        return []
    jobs = []
    for name, record in records.items():
        if backend == "auto" and name not in CPU_ONNXRUNTIME_MODULES:
            continue
        path = directory / str(record.get("onnx", ""))
        try:
            opened = _Opened(_stat(path), threads)
        except OSError:
            continue
        with _lock:
            _opened[os.path.realpath(path)] = opened
        jobs.append((name, path, opened))
    if jobs:
        threading.Thread(target=_open_all, args=(jobs,), name="ort-prewarm", daemon=True).start()
    return [name for name, _, _ in jobs]


def _open_all(jobs: list[tuple[str, Path, _Opened]]) -> None:
    import onnxruntime as ort

    for name, path, opened in jobs:
        try:
            opened.session = ort.InferenceSession(
                str(path), session_options(opened.threads), providers=list(CPU_PROVIDERS)
            )
        except Exception as exc:  # onnxruntime's own exception types; OrtRunner opens its own and reports it
            logger.debug("prewarm of %s failed: %s", name, exc)
        finally:
            opened.done.set()


def take(path: Path, threads: int | None, providers: list[str]) -> Any | None:
    """The session ``start`` opened for ``path`` with these options, if the file is unchanged since; else None.
    Waits for a session still being opened. Each session is handed over once."""
    with _lock:
        opened = _opened.pop(os.path.realpath(path), None)
    if opened is None or tuple(providers) != CPU_PROVIDERS or opened.threads != threads:
        return None
    opened.done.wait()
    try:
        unchanged = _stat(path) == opened.stat
    except OSError:
        return None
    return opened.session if unchanged else None


def discard() -> None:
    """Drop the sessions nobody took (a module that ended up elsewhere)."""
    with _lock:
        _opened.clear()
