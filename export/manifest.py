"""The engine directory's ``manifest.json``: what was exported from which weights, with which tools.

Layout of an engine directory::

    manifest.json
    onnx/<module>.onnx          (+ <module>.onnx.data when the weights are stored as external data)
    tensorrt/<module>-<key>.plan
    tensorrt/timing.cache

Weights are identified by a SHA-256 over the module's state dict (names, dtypes, shapes, bytes). A worker may
load the same checkpoint in fp16 or bf16, so the export records the hash of the weights as cast to each floating
dtype: a worker's hash of its loaded module matches exactly one entry, and nothing else matches.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.errors import ExportError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
# ONNX opset of every export (why 17: export/onnx_export.py); here so that checking an export needs no ``onnx``.
OPSET = 17
HASH_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
VERSIONED_PACKAGES = ("videogen", "torch", "onnx", "onnxruntime", "diffusers", "transformers")


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def weights_sha256(module: nn.Module, dtype: torch.dtype | None = None) -> str:
    """SHA-256 of ``module``'s state dict, floating tensors first cast to ``dtype`` (None: as stored).

    Names, dtypes and shapes are hashed with the bytes, so a renamed or reshaped parameter changes the hash.
    Reads every weight once (about 1 s per GB on one core).
    """
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        t = t.to("cpu").contiguous().reshape(-1)
        h.update(f"{name}|{dtype_name(t.dtype)}|{tuple(tensor.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


def weights_hashes(module: nn.Module) -> dict[str, str]:
    """The hash of ``module``'s weights as cast to each of ``HASH_DTYPES``, keyed by dtype name."""
    return {dtype_name(d): weights_sha256(module, d) for d in HASH_DTYPES}


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the packages an export depends on (``"absent"`` where not installed)."""
    versions = {}
    for name in (*VERSIONED_PACKAGES, *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


@dataclass
class ModuleRecord:
    """One exported module: its ONNX file, I/O, shape ranges, source weights and parity check."""

    name: str
    component: str
    component_class: str
    onnx: str  # path relative to the engine directory
    external_data: bool
    opset: int
    inputs: list[dict[str, Any]]  # {"name", "dtype", "dims"}
    outputs: list[dict[str, Any]]
    dynamic_axes: dict[str, dict[str, str]]
    profile: dict[str, list[list[int]]]  # input -> [min, opt, max] shapes
    weights_sha256: dict[str, str]  # dtype name -> hash
    parity: dict[str, Any] = field(default_factory=dict)
    # path relative to the engine directory -> SHA-256 of its bytes (the graph and its external data), so that a
    # truncated or overwritten file is found before ONNX Runtime loads it; empty in exports older than this field
    files_sha256: dict[str, str] = field(default_factory=dict)

    def matches(self, module_hash: str) -> bool:
        return module_hash in self.weights_sha256.values()


@dataclass
class EngineRecord:
    """One TensorRT engine, named by its cache key."""

    key: str
    module: str
    file: str  # path relative to the engine directory
    precision: str
    weights_sha256: str  # float32 hash of the source weights
    gpu: str
    tensorrt: str
    profile: dict[str, list[list[int]]]
    build_seconds: float = 0.0


@dataclass
class Manifest:
    opset: int
    shape_ranges: dict[str, list[int]]
    versions: dict[str, str] = field(default_factory=package_versions)
    modules: dict[str, ModuleRecord] = field(default_factory=dict)
    engines: dict[str, EngineRecord] = field(default_factory=dict)
    format: int = MANIFEST_FORMAT

    def write(self, directory: Path) -> Path:
        """Write ``manifest.json`` atomically (a reader never sees half a file)."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MANIFEST_NAME
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Raise ``ExportError`` naming the problem when the manifest is missing or unreadable."""
        path = directory / MANIFEST_NAME
        if not path.is_file():
            raise ExportError(f"{path} does not exist: run `videogen export --out {directory}` first")
        try:
            raw = json.loads(path.read_text())
            if raw.get("format") != MANIFEST_FORMAT:
                raise ExportError(f"{path} has format {raw.get('format')}, expected {MANIFEST_FORMAT}")
            return cls(
                opset=raw["opset"],
                shape_ranges=raw["shape_ranges"],
                versions=raw["versions"],
                modules={k: ModuleRecord(**v) for k, v in raw["modules"].items()},
                engines={k: EngineRecord(**v) for k, v in raw["engines"].items()},
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ExportError(f"{path} is not a valid manifest: {exc}") from exc

    @classmethod
    def read_or_none(cls, directory: Path) -> Manifest | None:
        return cls.read(directory) if (directory / MANIFEST_NAME).is_file() else None
