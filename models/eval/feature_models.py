"""Local feature networks for FVD and IS: TorchScript modules described by a small JSON spec.

Nothing is downloaded. A feature model is either

- a TorchScript file (``torch.jit.save``), used with the defaults of ``FeatureModelSpec``; a module whose
  ``forward`` takes ``return_features`` (the I3D TorchScript that StyleGAN-V and most FVD code use) is called with
  ``rescale=False, resize=False, return_features=True``, as that code does;
- or a folder holding ``model.pt`` and ``feature_model.json`` with any ``FeatureModelSpec`` fields, e.g.
  ``{"kind": "video", "input_size": 224, "value_range": [-1, 1], "call_kwargs": {}}``.

Inputs are uint8 videos (B, F, H, W, 3); ``FeatureNet`` resizes frames to ``input_size`` and maps 0..255 to
``value_range``. A ``video`` model receives (B, 3, F, S, S); an ``image`` model (B*F, 3, S, S), one row a frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

SPEC_FILE = "feature_model.json"
MODEL_FILE = "model.pt"
I3D_KWARGS = {"rescale": False, "resize": False, "return_features": True}


@dataclass(frozen=True)
class FeatureModelSpec:
    """How to feed a feature network. ``kind``: ``video`` or ``image``; ``input_size``: square side in pixels;
    ``value_range``: what 0 and 255 map to; ``call_kwargs``: extra keyword arguments of ``forward``;
    ``batch_size``: videos (or frames) per forward call."""

    kind: str = "video"
    input_size: int = 224
    value_range: tuple[float, float] = (-1.0, 1.0)
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.kind not in ("video", "image"):
            raise ValueError(f"feature model kind must be 'video' or 'image', got {self.kind!r}")
        if self.input_size < 1:
            raise ValueError(f"feature model input_size must be >= 1, got {self.input_size}")
        if self.batch_size < 1:
            raise ValueError(f"feature model batch_size must be >= 1, got {self.batch_size}")


class FeatureNet:
    """A loaded feature network and its spec: ``features(videos)`` -> float64 (N, D)."""

    def __init__(self, module: torch.nn.Module, spec: FeatureModelSpec, name: str) -> None:
        self.module = module.eval()
        self.spec = spec
        self.name = name

    def prepare(self, videos: np.ndarray) -> torch.Tensor:
        """uint8 (B, F, H, W, 3) -> the network's input: (B, 3, F, S, S) or (B*F, 3, S, S) in ``value_range``."""
        if videos.ndim != 5 or videos.shape[-1] != 3 or videos.dtype != np.uint8:
            raise ValueError(f"videos must be uint8 (B, F, H, W, 3), got {videos.dtype} {videos.shape}")
        b, f, h, w, _ = videos.shape
        frames = torch.from_numpy(np.ascontiguousarray(videos)).reshape(b * f, h, w, 3)
        frames = frames.permute(0, 3, 1, 2).float() / 255.0  # (B*F, 3, H, W) in [0, 1]
        size = self.spec.input_size
        if (h, w) != (size, size):
            frames = F.interpolate(frames, size=(size, size), mode="bilinear", antialias=True)
        lo, hi = self.spec.value_range
        frames = lo + (hi - lo) * frames
        if self.spec.kind == "image":
            return frames
        return frames.reshape(b, f, 3, size, size).transpose(1, 2)  # (B, 3, F, S, S)

    @torch.no_grad()
    def outputs(self, videos: np.ndarray) -> np.ndarray:
        """The network's outputs, float64: (B, D) for a video model, (B*F, D) for an image model."""
        batch = self.spec.batch_size
        parts = []
        for start in range(0, len(videos), batch):
            inputs = self.prepare(videos[start : start + batch])
            out = self.module(inputs, **self.spec.call_kwargs)
            if isinstance(out, (tuple, list)):
                out = out[0]
            parts.append(out.reshape(out.shape[0], -1).double().cpu().numpy())
        return np.concatenate(parts)


def _forward_arguments(module: torch.nn.Module) -> set[str]:
    forward = getattr(module, "forward", None)
    schema = getattr(forward, "schema", None)
    return {a.name for a in schema.arguments} if schema is not None else set()


def load_feature_net(path: str | Path) -> FeatureNet:
    """Load a TorchScript feature network from a file or a spec folder (see the module docstring).

    Raises:
        FileNotFoundError: the path, or the folder's ``model.pt``, does not exist.
        ValueError: the file is not TorchScript, or the spec JSON is invalid.
    """
    path = Path(path).expanduser()
    spec_values: dict[str, Any] = {}
    if path.is_dir():
        spec_path = path / SPEC_FILE
        if spec_path.is_file():
            try:
                spec_values = json.loads(spec_path.read_text())
            except json.JSONDecodeError as exc:
                raise ValueError(f"{spec_path} is not valid JSON: {exc}") from exc
            known = {f.name for f in fields(FeatureModelSpec)}
            unknown = set(spec_values) - known
            if unknown:
                raise ValueError(f"{spec_path} has unknown fields {sorted(unknown)}; known: {sorted(known)}")
            if "value_range" in spec_values:
                spec_values["value_range"] = tuple(spec_values["value_range"])
        model_path = path / MODEL_FILE
    else:
        model_path = path
    if not model_path.is_file():
        raise FileNotFoundError(f"feature model {model_path} does not exist")
    try:
        module = torch.jit.load(str(model_path), map_location="cpu")
    except RuntimeError as exc:
        raise ValueError(f"{model_path} is not a TorchScript module: {exc}") from exc
    if "call_kwargs" not in spec_values and "return_features" in _forward_arguments(module):
        spec_values["call_kwargs"] = dict(I3D_KWARGS)
    return FeatureNet(module, FeatureModelSpec(**spec_values), name=str(path))
