"""GPU backends on the tiny preset: torch CUDA fp16, ONNX Runtime's CUDA provider, TensorRT engines.

Skipped without CUDA; the TensorRT tests also need the ``gpu`` extra (``pip install -e '.[gpu]'``). Record the
card and versions of each run in docs/performance.md.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from export.backends import apply_backends
from export.onnx_export import export_pipeline, relative_error
from export.ort_session import cuda_provider_available
from export.specs import SPECS, Geometry
from export.tensorrt_build import Precision, build_engines
from export.wrappers import AcceleratedModule
from models.loading import build_pipeline
from models.pipeline_videogen import VideoGenPipeline

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
needs_tensorrt = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is None, reason="tensorrt not installed"
)

PROMPT = "a red ball rolls to the right"
GENERATION = {"seed": 3, "num_frames": 6, "temporal_upsampling": 1, "output_type": "pt"}
# Relative error per module vs fp32 torch on the same GPU. TensorRT fp32 builds use TF32 matmuls (~1e-3);
# fp16 engines (VAE decoders stay fp32) are expected around 1e-2 on random weights.
TOLERANCE = {Precision.FP32: 5e-3, Precision.FP16: 3e-2}
# Whole generation, frames in [0, 1]: fp32 backends agree closely; fp16 drifts over the denoising steps.
MIN_PSNR_DB = {Precision.FP32: 40.0, Precision.FP16: 25.0}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a.float().cpu() - b.float().cpu()) ** 2).mean().item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1.0 / mse)).item()


def gpu_pipeline(dtype: torch.dtype = torch.float32) -> VideoGenPipeline:
    """The tiny preset with its zero-initialised layers given small random weights (see the unit tests)."""
    pipe = build_pipeline("tiny")
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name in ("temporal_upsampler", "video_decoder"):
            for param in getattr(pipe, name).parameters():
                if not param.any():
                    param.copy_(0.05 * torch.randn(param.shape, generator=generator))
    return pipe.to("cuda", dtype)


@pytest.fixture(scope="module")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("gpu-engines")
    export_pipeline(gpu_pipeline().to("cpu"), directory)
    return directory


@pytest.fixture(scope="module")
def torch_frames() -> torch.Tensor:
    return gpu_pipeline()(PROMPT, **GENERATION).frames


def test_torch_fp16_generation_is_close_to_fp32(torch_frames: torch.Tensor) -> None:
    frames = gpu_pipeline(torch.float16)(PROMPT, **GENERATION).frames
    assert torch.isfinite(frames).all()
    assert psnr(frames, torch_frames) >= MIN_PSNR_DB[Precision.FP16]


@pytest.mark.skipif(not cuda_provider_available(), reason="onnxruntime-gpu not installed")
def test_onnxruntime_cuda_provider(engine_dir: Path, torch_frames: torch.Tensor) -> None:
    pipe = gpu_pipeline()
    choices = apply_backends(pipe, "onnxruntime", engine_dir)
    assert {c.detail for c in choices.values()} == {"onnxruntime (CUDAExecutionProvider)"}
    frames = pipe(PROMPT, **GENERATION).frames
    assert psnr(frames, torch_frames) >= MIN_PSNR_DB[Precision.FP32]


def _module_parity(pipe: VideoGenPipeline, tolerance: float) -> None:
    """Each wrapped module, run on a side stream, against the fp32 torch module on fresh random inputs."""
    reference = gpu_pipeline()
    geometry = Geometry.of(reference)
    generator = torch.Generator().manual_seed(5)
    sizes = {"batch": 2, "frames": 5, "height": 8, "width": 8}  # inside every module's profile
    side = torch.cuda.Stream()
    for name, spec in SPECS.items():
        wrapper = getattr(pipe, spec.component)
        assert isinstance(wrapper, AcceleratedModule) and wrapper.backend == "tensorrt", name
        feeds = [x.cuda() for x in spec.sample_inputs(sizes, geometry, generator).values()]
        cast = [x.to(wrapper.dtype) if x.is_floating_point() else x for x in feeds]
        with torch.no_grad():
            expected = spec.export_module(getattr(reference, spec.component))(*feeds)
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # the engine must run on the caller's current stream
                actual = spec.export_module(wrapper)(*cast)
            torch.cuda.current_stream().wait_stream(side)
        assert wrapper.fallback_calls == 0, name
        assert relative_error(actual, expected) < tolerance, name


@needs_tensorrt
@pytest.mark.parametrize("precision", [Precision.FP32, Precision.FP16])
def test_tensorrt_engines_match_torch(
    engine_dir: Path, torch_frames: torch.Tensor, precision: Precision
) -> None:
    build_engines(engine_dir, precision)
    dtype = torch.float16 if precision is Precision.FP16 else torch.float32
    pipe = gpu_pipeline(dtype)
    choices = apply_backends(pipe, "auto", engine_dir)
    assert {c.backend for c in choices.values()} == {"tensorrt"}, {k: c.reason for k, c in choices.items()}
    _module_parity(pipe, TOLERANCE[precision])
    frames = pipe(PROMPT, **GENERATION).frames
    assert psnr(frames, torch_frames) >= MIN_PSNR_DB[precision]


@needs_tensorrt
def test_engine_cache_is_reused(engine_dir: Path) -> None:
    first = build_engines(engine_dir, Precision.FP16, modules=["text_encoder"])
    plan = engine_dir / first[0].file
    mtime = plan.stat().st_mtime_ns
    second = build_engines(engine_dir, Precision.FP16, modules=["text_encoder"])
    assert second == first and plan.stat().st_mtime_ns == mtime
    assert (engine_dir / "tensorrt" / "timing.cache").stat().st_size > 0


@needs_tensorrt
def test_shape_outside_the_profile_runs_in_torch(engine_dir: Path) -> None:
    build_engines(engine_dir, Precision.FP32, modules=["temporal_upsampler"])
    pipe = gpu_pipeline()
    apply_backends(pipe, "tensorrt", engine_dir, modules=["temporal_upsampler"])
    wrapper = pipe.temporal_upsampler
    too_many = torch.randn(1, 4, 40, 16, 16, device="cuda")  # profile max: 16 frames
    with torch.no_grad():
        out = wrapper(too_many)
    assert out.shape == (1, 4, 79, 16, 16)
    assert wrapper.fallback_calls == 1
