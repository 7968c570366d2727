import pytest

from core.errors import ModelLoadError
from core.params import TINY_PRESET_CAPABILITIES
from worker.runtime import load_runtime, resolve_device


def test_load_runtime_reports_what_the_model_can_do(make_settings):
    runtime = load_runtime(make_settings(model="tiny", device="cpu"))
    caps = runtime.capabilities
    assert caps.model == "tiny" and caps.size_multiple == 8 and caps.max_base_frames == 16
    assert caps.defaults["width"] == 32 and runtime.device == "cpu"
    announced = {"model", "defaults", "size_multiple", "max_base_frames", "max_temporal_upsampling"}
    assert caps.model_dump(include=announced) == TINY_PRESET_CAPABILITIES.model_dump(include=announced)
    assert set(runtime.backends.values()) == {"torch"} and "decode" in runtime.backends


def test_a_missing_model_is_a_clear_model_error(make_settings, tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_runtime(make_settings(model=str(tmp_path / "nowhere")))


def test_auto_device_is_cpu_without_a_gpu():
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cuda:1") == "cuda:1"


def test_torch_compile_setting_compiles_the_modules_left_on_torch(make_settings):
    from export.torch_compile import is_compiled

    runtime = load_runtime(make_settings(model="tiny", device="cpu", torch_compile=True))  # no warm-up: lazy
    pipe = runtime.pipeline
    assert all(
        is_compiled(m) for m in (pipe.base_unet, pipe.sr_unet, pipe.temporal_upsampler, pipe.video_decoder)
    )
    assert not is_compiled(pipe.text_encoder)
    assert not is_compiled(load_runtime(make_settings(model="tiny", device="cpu")).pipeline.base_unet)


def test_the_warm_up_compiles_what_a_default_job_runs(make_settings, monkeypatch):
    """With torch.compile on, the first default job recompiles nothing: the warm-up ran its shapes. (Dynamo's
    ``eager`` backend stands in for inductor, which takes minutes on 2 cores; the shapes are what matters.)"""
    import torch

    import export.backends
    from export.torch_compile import compile_in_place

    monkeypatch.setattr(
        export.backends, "compile_in_place", lambda module, backend: compile_in_place(module, "eager")
    )
    runtime = load_runtime(make_settings(model="tiny", device="cpu", torch_compile=True, warmup=True))
    d = runtime.capabilities.defaults
    with torch._dynamo.config.patch(error_on_recompile=True, suppress_errors=False):
        runtime.pipeline(
            "a red ball",
            num_frames=int(d["num_frames"]),
            height=int(d["height"]),
            width=int(d["width"]),
            num_inference_steps=2,
            seed=3,
            output_type="pt",
        )


def test_dtype_auto_is_float16_on_cuda_with_the_vae_decoders_float32_and_float32_on_cpu():
    import torch

    from models.loading import DtypePlan, choose_dtype

    assert choose_dtype("auto", "cpu") == DtypePlan(torch.float32, ())
    assert choose_dtype("auto", "cuda:1") == DtypePlan(torch.float16, ("vae", "video_decoder"))
    assert choose_dtype("float16", "cpu") == DtypePlan(torch.float16, ("vae", "video_decoder"))
    assert choose_dtype("bfloat16", "cuda") == DtypePlan(torch.bfloat16, ())
    assert choose_dtype("float32", "cuda") == DtypePlan(torch.float32, ())
    with pytest.raises(ValueError, match="dtype='half' must be one of"):
        choose_dtype("half", "cpu")


def test_videogen_dtype_is_honoured_by_the_worker(make_settings, monkeypatch):
    import torch

    monkeypatch.setenv("VIDEOGEN_DTYPE", "bfloat16")
    runtime = load_runtime(make_settings(device="cpu"))
    pipe = runtime.pipeline
    assert {m.dtype for m in (pipe.base_unet, pipe.sr_unet, pipe.vae, pipe.video_decoder)} == {torch.bfloat16}
    out = pipe("a red ball", seed=0, num_frames=3, num_inference_steps=1)
    assert out.frames.shape == (1, 3, 32, 32, 3)


def test_a_float16_pipeline_keeps_its_vae_decoders_float32_and_runs(make_settings):
    """What ``auto`` loads on CUDA, run here on the CPU: float16 denoisers feed float16 latents to the float32
    VAE (inside diffusers' SD pipeline too) and video decoder."""
    import torch

    runtime = load_runtime(make_settings(device="cpu", dtype="float16"))
    pipe = runtime.pipeline
    assert pipe.base_unet.dtype == pipe.reference_unet.dtype == pipe.text_encoder.dtype == torch.float16
    assert pipe.vae.dtype == pipe.video_decoder.dtype == torch.float32
    out = pipe("a red ball", seed=0, num_frames=3, num_inference_steps=1, output_type="pt")
    assert torch.isfinite(out.frames).all()
