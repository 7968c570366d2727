"""Backend choice and fallback: each missing or mismatched piece moves to the next backend and says why."""

from __future__ import annotations

import importlib.util
import logging
import shutil

import pytest
import torch

from export.backends import apply_backends
from export.engine import TensorRTEnvironment
from export.manifest import EngineRecord, Manifest
from export.specs import SPECS
from export.tensorrt_build import Precision, engine_key, engine_path
from export.wrappers import AcceleratedModule

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
# What a GPU host with TensorRT reports; the tiny pipeline itself stays on CPU, which is enough to exercise the
# engine lookup (an engine is only loaded once its key matches).
GPU_HOST = TensorRTEnvironment(version="10.7.0", gpu="NVIDIA H100 80GB HBM3 (sm_90)")
# A whole generation on ONNX Runtime vs torch, same seed: frames in [0, 1]. Measured: ~140 dB (identical to
# float precision); anything under 60 dB means a stage diverged.
MIN_PSNR_DB = 60.0
PROMPT = "a red ball rolls to the right"


def choice_for(pipe, directory, module: str, backend: str = "auto", env: TensorRTEnvironment | None = None):
    return apply_backends(pipe, backend, directory, [module], tensorrt_env=env)[module]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a.float() - b.float()) ** 2).mean().item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1.0 / mse)).item()


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here")
def test_auto_without_tensorrt_package_takes_onnxruntime(tiny_export, fresh_pipe) -> None:
    choices = apply_backends(fresh_pipe, "auto", tiny_export.directory)
    assert set(choices) == set(SPECS)
    for name, choice in choices.items():
        assert choice.backend == "onnxruntime", name
        assert choice.reason == "tensorrt: package not installed -> onnxruntime (CPUExecutionProvider)"


def test_tensorrt_is_never_chosen_for_a_cpu_pipeline(tiny_export, fresh_pipe) -> None:
    """Package missing (here) or present: without a CUDA device in the pipeline there is no engine to run."""
    env = TensorRTEnvironment.probe(fresh_pipe.device)
    assert env.unavailable
    choices = apply_backends(fresh_pipe, "tensorrt", tiny_export.directory, modules=["base_unet"])
    assert choices["base_unet"].backend == "onnxruntime"
    assert choices["base_unet"].reason.startswith(f"tensorrt: {env.unavailable}")


def test_no_cuda_device_is_a_reason(tiny_export, fresh_pipe) -> None:
    env = TensorRTEnvironment(version="10.7.0", unavailable="no CUDA device")
    choice = choice_for(fresh_pipe, tiny_export.directory, "sr_unet", env=env)
    assert choice.reason == "tensorrt: no CUDA device -> onnxruntime (CPUExecutionProvider)"


def test_missing_engine_falls_back_to_onnxruntime(tiny_export, fresh_pipe) -> None:
    choice = choice_for(fresh_pipe, tiny_export.directory, "base_unet", env=GPU_HOST)
    assert choice.backend == "onnxruntime"
    assert "tensorrt: no fp32 engine for this GPU" in choice.reason


def _copy_export(tiny_export, tmp_path):
    directory = tmp_path / "engines"
    shutil.copytree(tiny_export.directory, directory)
    return directory


def _add_engine(directory, module: str, weights: str, precision: Precision = Precision.FP32) -> EngineRecord:
    """Register an engine file the way ``build_engines`` does (its bytes are not a real engine)."""
    manifest = Manifest.read(directory)
    key = engine_key(module, weights, GPU_HOST.gpu or "", GPU_HOST.version or "", precision)
    plan = engine_path(directory, module, key)
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_bytes(b"not a TensorRT engine")
    record = EngineRecord(
        key=key,
        module=module,
        file=str(plan.relative_to(directory)),
        precision=str(precision),
        weights_sha256=weights,
        gpu=GPU_HOST.gpu or "",
        tensorrt=GPU_HOST.version or "",
        profile=manifest.modules[module].profile,
    )
    manifest.engines[key] = record
    manifest.write(directory)
    return record


def test_engine_for_other_weights_is_not_used(tiny_export, fresh_pipe, tmp_path, caplog) -> None:
    directory = _copy_export(tiny_export, tmp_path)
    _add_engine(directory, "base_unet", weights="0" * 64)
    with caplog.at_level(logging.WARNING, logger="export.backends"):
        choice = choice_for(fresh_pipe, directory, "base_unet", env=GPU_HOST)
    assert choice.backend == "onnxruntime"
    assert "was built for weights 000000" in choice.reason
    assert any("base_unet runs on" in r.message for r in caplog.records)


def test_engine_for_another_precision_names_it(tiny_export, fresh_pipe, tmp_path) -> None:
    directory = _copy_export(tiny_export, tmp_path)
    weights = Manifest.read(directory).modules["sr_unet"].weights_sha256["float32"]
    _add_engine(directory, "sr_unet", weights, Precision.FP16)
    choice = choice_for(fresh_pipe, directory, "sr_unet", env=GPU_HOST)
    assert "precision fp16 (here fp32)" in choice.reason
    assert choice.backend == "onnxruntime"


def test_matching_engine_that_does_not_load_falls_back(tiny_export, fresh_pipe, tmp_path, caplog) -> None:
    directory = _copy_export(tiny_export, tmp_path)
    weights = Manifest.read(directory).modules["base_unet"].weights_sha256["float32"]
    record = _add_engine(directory, "base_unet", weights)
    with caplog.at_level(logging.WARNING, logger="export.backends"):
        choice = choice_for(fresh_pipe, directory, "base_unet", env=GPU_HOST)
    assert choice.backend == "onnxruntime"
    assert f"engine {record.file.split('/')[-1]} does not load" in choice.reason
    assert caplog.records and caplog.records[-1].levelno == logging.WARNING


def test_onnx_from_other_weights_falls_back_to_torch(tiny_export, fresh_pipe, caplog) -> None:
    with torch.no_grad():
        next(iter(fresh_pipe.temporal_upsampler.parameters())).add_(0.01)
    with caplog.at_level(logging.WARNING, logger="export.backends"):
        choices = apply_backends(fresh_pipe, "onnxruntime", tiny_export.directory)
    choice = choices["temporal_upsampler"]
    assert choice.backend == "torch"
    assert "onnxruntime: the export of temporal_upsampler is from other weights" in choice.reason
    assert not isinstance(fresh_pipe.temporal_upsampler, AcceleratedModule)
    assert choices["video_decoder"].backend == "onnxruntime"  # the others still match
    assert any("temporal_upsampler" in r.message for r in caplog.records)


def test_broken_onnx_file_falls_back_to_torch_and_generation_works(tiny_export, fresh_pipe, tmp_path) -> None:
    directory = _copy_export(tiny_export, tmp_path)
    (directory / "onnx" / "text_encoder.onnx").write_bytes(b"\x00garbage")
    (directory / "onnx" / "video_decoder.onnx").unlink()
    choices = apply_backends(fresh_pipe, "auto", directory, ["text_encoder", "video_decoder"])
    assert choices["text_encoder"].backend == "torch"
    assert "ONNX Runtime cannot load" in choices["text_encoder"].reason
    assert choices["video_decoder"].backend == "torch"
    assert "video_decoder.onnx is missing" in choices["video_decoder"].reason
    out = fresh_pipe(PROMPT, seed=0, num_inference_steps=1, num_frames=2, temporal_upsampling=0)
    assert out.frames.shape == (1, 2, 32, 32, 3)


def test_no_engine_directory_or_manifest(fresh_pipe, tmp_path) -> None:
    choice = apply_backends(fresh_pipe, "onnxruntime", None, ["vae_decoder"])["vae_decoder"]
    assert choice.reason == "onnxruntime: no engine directory -> torch"
    choice = apply_backends(fresh_pipe, "onnxruntime", tmp_path, ["vae_decoder"])["vae_decoder"]
    assert choice.backend == "torch"
    assert "manifest.json does not exist" in choice.reason


def test_torch_backend_keeps_torch_modules(tiny_export, fresh_pipe) -> None:
    unet = fresh_pipe.base_unet
    apply_backends(fresh_pipe, "onnxruntime", tiny_export.directory, ["base_unet"])
    assert isinstance(fresh_pipe.base_unet, AcceleratedModule)
    choice = apply_backends(fresh_pipe, "torch", tiny_export.directory, ["base_unet"])["base_unet"]
    assert choice.backend == "torch"
    assert choice.reason == "torch: float32 on cpu"
    assert fresh_pipe.base_unet is unet  # re-deciding starts from the original module


def test_unknown_backend_is_refused(fresh_pipe) -> None:
    with pytest.raises(ValueError, match="backend='cuda'"):
        apply_backends(fresh_pipe, "cuda", None)


def test_wrappers_keep_the_pipeline_interface(tiny_export, fresh_pipe) -> None:
    torch_unet = fresh_pipe.base_unet
    apply_backends(fresh_pipe, "onnxruntime", tiny_export.directory)
    unet = fresh_pipe.base_unet
    assert isinstance(unet, AcceleratedModule)
    assert unet.config is torch_unet.config
    assert unet.dtype == torch.float32 and unet.device.type == "cpu"
    assert fresh_pipe.vae.config.scaling_factor == 0.18215
    assert fresh_pipe.components["base_unet"] is unet
    assert fresh_pipe.config.base_unet[1] == "VideoUNet"  # the saved config still names the torch class


def test_wrapper_runs_torch_for_a_size_the_graph_was_not_traced_for(tiny_export, fresh_pipe) -> None:
    """An odd latent size takes the UNet's upsample-size branch, which the trace did not record."""
    torch_unet = fresh_pipe.base_unet
    apply_backends(fresh_pipe, "onnxruntime", tiny_export.directory, ["base_unet"])
    g = torch.Generator().manual_seed(0)
    args = (torch.randn(1, 4, 2, 5, 6, generator=g), torch.tensor(10), torch.randn(1, 77, 32, generator=g))
    ref = torch.randn(1, 4, 5, 6, generator=g)
    with torch.no_grad():
        out = fresh_pipe.base_unet(*args, ref)
        expected = torch_unet(*args, ref)
    assert fresh_pipe.base_unet.fallback_calls == 1 and fresh_pipe.base_unet.accelerated_calls == 0
    torch.testing.assert_close(out, expected)
    with torch.no_grad():
        fresh_pipe.base_unet(torch.randn(1, 4, 2, 6, 6), torch.tensor(10), args[2], torch.randn(1, 4, 6, 6))
    assert fresh_pipe.base_unet.accelerated_calls == 1


def test_whole_generation_on_onnxruntime_matches_torch(tiny_export, fresh_pipe) -> None:
    kwargs = {"seed": 7, "num_frames": 6, "temporal_upsampling": 1, "output_type": "pt"}
    expected = fresh_pipe(PROMPT, **kwargs).frames
    choices = apply_backends(fresh_pipe, "onnxruntime", tiny_export.directory)
    assert {c.backend for c in choices.values()} == {"onnxruntime"}
    actual = fresh_pipe(PROMPT, **kwargs).frames
    assert actual.shape == expected.shape == (1, 6, 3, 32, 32)
    for name in SPECS:
        wrapper = getattr(fresh_pipe, SPECS[name].component)
        assert wrapper.accelerated_calls > 0 and wrapper.fallback_calls == 0, name
    assert psnr(actual, expected) >= MIN_PSNR_DB


def test_wrappers_hand_arguments_the_graph_lacks_to_torch(tiny_export, fresh_pipe) -> None:
    torch_encoder = fresh_pipe.text_encoder
    apply_backends(fresh_pipe, "onnxruntime", tiny_export.directory, ["text_encoder"])
    encoder = fresh_pipe.text_encoder
    ids = torch.randint(0, 50, (2, 77), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        plain = encoder(ids, output_hidden_states=False)[0]
        masked = encoder(ids, attention_mask=mask)[0]
        expected = torch_encoder(ids, attention_mask=mask)[0]
    assert (encoder.accelerated_calls, encoder.fallback_calls) == (1, 1)
    torch.testing.assert_close(masked, expected)
    torch.testing.assert_close(plain, expected, rtol=1e-4, atol=1e-5)
