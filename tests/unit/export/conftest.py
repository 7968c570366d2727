"""One ONNX export of the tiny preset per session, shared by the export and backend tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from export.manifest import Manifest
from export.onnx_export import export_pipeline
from models.loading import build_pipeline
from models.pipeline_videogen import VideoGenPipeline


def tiny_pipeline_for_export() -> VideoGenPipeline:
    """The tiny preset with its zero-initialised layers (flow head, refiner, temporal attention outputs) given
    small random weights, so the exported graphs exercise every path. Deterministic: the same weights each call."""
    pipe = build_pipeline("tiny")
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name in ("temporal_upsampler", "video_decoder"):
            for param in getattr(pipe, name).parameters():
                if not param.any():
                    param.copy_(0.05 * torch.randn(param.shape, generator=generator))
    return pipe


@dataclass(frozen=True)
class TinyExport:
    pipe: VideoGenPipeline  # the exported pipeline: do not mutate it
    directory: Path
    manifest: Manifest


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> TinyExport:
    directory = tmp_path_factory.mktemp("engines")
    pipe = tiny_pipeline_for_export()
    manifest = export_pipeline(pipe, directory, verify=False)
    return TinyExport(pipe, directory, manifest)


@pytest.fixture
def fresh_pipe() -> VideoGenPipeline:
    """A pipeline with exactly the exported weights, free to mutate (``apply_backends`` swaps components)."""
    return tiny_pipeline_for_export()
