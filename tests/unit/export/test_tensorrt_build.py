"""The CPU-side logic of TensorRT builds: cache keys, per-module precision, refusal without TensorRT."""

from __future__ import annotations

import importlib.util

import pytest

from core.errors import ExportError
from export.engine import TensorRTUnavailable, import_tensorrt
from export.tensorrt_build import Precision, build_engines, engine_key, engine_path, module_precision

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
KEY_FIELDS = {
    "module": "base_unet",
    "weights_sha256": "a" * 64,
    "gpu": "NVIDIA H100 80GB HBM3 (sm_90)",
    "tensorrt_version": "10.7.0",
    "precision": Precision.FP16,
}


def test_engine_key_depends_on_every_field() -> None:
    key = engine_key(**KEY_FIELDS)
    assert key == engine_key(**KEY_FIELDS)
    changed = {
        "module": "sr_unet",
        "weights_sha256": "b" * 64,
        "gpu": "NVIDIA L4 (sm_89)",
        "tensorrt_version": "10.8.0",
        "precision": Precision.BF16,
    }
    for field, value in changed.items():
        assert engine_key(**{**KEY_FIELDS, field: value}) != key, field


def test_engine_path_is_named_by_module_and_key(tmp_path) -> None:
    assert engine_path(tmp_path, "sr_unet", "abc") == tmp_path / "tensorrt" / "sr_unet-abc.plan"


def test_vae_decoders_never_build_in_fp16() -> None:
    assert module_precision("video_decoder", Precision.FP16) is Precision.FP32
    assert module_precision("vae_decoder", Precision.FP16) is Precision.FP32
    assert module_precision("video_decoder", Precision.BF16) is Precision.BF16
    assert module_precision("base_unet", Precision.FP16) is Precision.FP16


def test_precision_follows_the_pipeline_dtype() -> None:
    assert Precision.for_dtype("float16") is Precision.FP16
    assert Precision.for_dtype("bfloat16") is Precision.BF16
    assert Precision.for_dtype("float32") is Precision.FP32


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here")
def test_missing_package_is_reported() -> None:
    with pytest.raises(TensorRTUnavailable, match="package not installed"):
        import_tensorrt()


def test_build_refuses_without_tensorrt_and_cuda(tmp_path) -> None:
    with pytest.raises(ExportError, match="cannot build TensorRT engines here"):
        build_engines(tmp_path, Precision.FP16, device="cpu")
