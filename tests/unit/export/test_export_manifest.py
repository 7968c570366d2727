"""The manifest: weights hashes per dtype, atomic write and read back, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.errors import ExportError
from export.manifest import Manifest, ModuleRecord, package_versions, weights_hashes, weights_sha256


def small_module(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8))


def test_hash_changes_with_weights_names_and_shapes() -> None:
    a, b = small_module(), small_module()
    assert weights_sha256(a) == weights_sha256(b)
    with torch.no_grad():
        b[0].weight[0, 0] += 1e-6
    assert weights_sha256(a) != weights_sha256(b)
    assert weights_sha256(small_module()) != weights_sha256(nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8)))


def test_hash_of_a_half_precision_load_matches_the_exported_cast() -> None:
    """A worker loading the checkpoint in fp16 hashes exactly what the export recorded for float16."""
    module = small_module()
    recorded = weights_hashes(module)
    assert set(recorded) == {"float32", "float16", "bfloat16"}
    assert weights_sha256(small_module().half()) == recorded["float16"]
    assert weights_sha256(small_module().to(torch.bfloat16)) == recorded["bfloat16"]
    assert weights_sha256(module) == recorded["float32"]


def _record() -> ModuleRecord:
    return ModuleRecord(
        name="m",
        component="m",
        component_class="Sequential",
        onnx="onnx/m.onnx",
        external_data=False,
        opset=17,
        inputs=[],
        outputs=[],
        dynamic_axes={},
        profile={"x": [[1], [2], [3]]},
        weights_sha256={"float32": "abc"},
    )


def test_write_and_read_back(tmp_path) -> None:
    manifest = Manifest(opset=17, shape_ranges={"batch": [1, 1, 2]}, modules={"m": _record()})
    manifest.write(tmp_path)
    back = Manifest.read(tmp_path)
    assert back.modules["m"] == _record()
    assert back.versions == package_versions()
    assert back.modules["m"].matches("abc") and not back.modules["m"].matches("abd")
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary file left


def test_missing_or_broken_manifest_is_named(tmp_path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        Manifest.read(tmp_path)
    assert Manifest.read_or_none(tmp_path) is None
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ExportError, match="not a valid manifest"):
        Manifest.read(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": 99}')
    with pytest.raises(ExportError, match="format 99"):
        Manifest.read(tmp_path)
