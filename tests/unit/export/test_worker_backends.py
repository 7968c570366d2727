"""The worker's model loading applies the configured backend and reports it per pipeline stage."""

from __future__ import annotations

from core.settings import Settings
from export.onnx_export import export_pipeline
from models.loading import load_pipeline
from worker.runtime import load_runtime


def test_worker_runs_exported_modules_on_onnxruntime(tmp_path) -> None:
    export_pipeline(
        load_pipeline("tiny"), tmp_path, modules=["text_encoder", "vae_decoder", "temporal_upsampler"]
    )
    settings = Settings(
        model="tiny", device="cpu", backend="onnxruntime", engine_dir=str(tmp_path), warmup=False
    )
    runtime = load_runtime(settings)
    assert runtime.backends == {
        "reference": "onnxruntime+torch",  # text encoder and VAE decoder exported, reference UNet not
        "base": "torch",
        "super_resolution": "torch",
        "temporal_upsampling": "onnxruntime",
        "decode": "torch",
    }
    assert runtime.capabilities.backends == runtime.backends
    out = runtime.pipeline("a red ball", seed=0, num_frames=3, num_inference_steps=1)
    assert out.frames.shape == (1, 3, 32, 32, 3)
    assert runtime.pipeline.temporal_upsampler.accelerated_calls == 1


def test_auto_on_a_cpu_keeps_the_modules_onnxruntime_measured_slower_on_torch(tmp_path) -> None:
    from export.cache import CPU_ONNXRUNTIME_MODULES

    assert "temporal_upsampler" not in CPU_ONNXRUNTIME_MODULES  # measured 0.82x (docs/performance.md)
    export_pipeline(
        load_pipeline("tiny"), tmp_path, modules=["text_encoder", "temporal_upsampler"], verify=False
    )
    settings = Settings(model="tiny", device="cpu", backend="auto", engine_dir=str(tmp_path), warmup=False)
    runtime = load_runtime(settings)
    assert runtime.backends["temporal_upsampling"] == "torch"
    assert runtime.backends["reference"] == "onnxruntime+torch"


def test_worker_default_backend_is_auto_and_a_preset_stays_on_torch(tmp_path) -> None:
    settings = Settings(model="tiny", device="cpu", warmup=False, data_dir=tmp_path)
    assert settings.backend == "auto" and settings.dtype == "auto"
    runtime = load_runtime(settings)
    assert set(runtime.backends.values()) == {"torch"}
    assert not (tmp_path / "engines").exists()  # presets are not exported under auto
