"""ONNX export of every module of the tiny preset: manifest, checker, and ONNX Runtime vs torch parity at
several shapes inside the dynamic ranges (none of them the traced shape)."""

from __future__ import annotations

import onnx
import pytest
import torch

from core.errors import ExportError
from export.manifest import EngineRecord, Manifest, weights_sha256
from export.onnx_export import OPSET, check_parity, export_pipeline, relative_error
from export.ort_session import OrtRunner
from export.specs import SPECS, Geometry, ShapeRanges

# Relative error, max |onnx - torch| / max |torch|. Measured ~1e-6 for every module (fp32 on CPU).
PARITY_TOLERANCE = 1e-4

# Dynamic sizes per module, inside the tiny preset's default ranges (16..64 px, 1..16 frames). The graphs were
# traced at the opt corner (8 frames, 32 px): these check that frames, batch and size really stay dynamic.
# Latent sizes of the UNets are multiples of 2 (their two-level down/up path).
SHAPES = {
    "base_unet": [
        {"batch": 1, "frames": 1, "height": 4, "width": 4},
        {"batch": 3, "frames": 5, "height": 6, "width": 10},
        {"batch": 1, "frames": 16, "height": 16, "width": 12},
    ],
    "sr_unet": [
        {"batch": 1, "frames": 3, "height": 8, "width": 12},
        {"batch": 2, "frames": 11, "height": 16, "width": 10},
    ],
    "temporal_upsampler": [
        {"batch": 1, "frames": 2, "height": 8, "width": 8},
        {"batch": 2, "frames": 5, "height": 10, "width": 14},
        {"batch": 1, "frames": 16, "height": 32, "width": 24},
    ],
    "video_decoder": [
        {"batch": 1, "frames": 1, "height": 8, "width": 8},
        {"batch": 2, "frames": 3, "height": 10, "width": 6},
        {"batch": 1, "frames": 12, "height": 16, "width": 12},
    ],
    "reference_unet": [
        {"batch": 1, "height": 8, "width": 8},
        {"batch": 3, "height": 12, "width": 20},
    ],
    "vae_decoder": [
        {"batch": 1, "height": 8, "width": 8},
        {"batch": 2, "height": 10, "width": 14},
    ],
    "text_encoder": [{"batch": 1}, {"batch": 3}],
}


def test_every_spec_has_parity_shapes() -> None:
    assert set(SHAPES) == set(SPECS)


@pytest.mark.parametrize("name", list(SPECS))
def test_onnx_runtime_matches_torch(tiny_export, name: str) -> None:
    spec = SPECS[name]
    record = tiny_export.manifest.modules[name]
    component = getattr(tiny_export.pipe, spec.component)
    geometry = Geometry.of(tiny_export.pipe)
    runner = OrtRunner(tiny_export.directory / record.onnx)
    adapter = spec.export_module(component).eval()
    for i, sizes in enumerate(SHAPES[name]):
        feeds = spec.sample_inputs(sizes, geometry, torch.Generator().manual_seed(100 + i))
        with torch.no_grad():
            expected = adapter(*feeds.values())
        actual = runner.run(feeds)[spec.output_names[0]]
        assert actual.shape == expected.shape, sizes
        assert expected.abs().max() > 0
        err = relative_error(actual, expected)
        assert err < PARITY_TOLERANCE, f"{name} at {sizes}: relative error {err:.2e}"


def test_frame_count_is_a_graph_dimension(tiny_export) -> None:
    """Frames other than the traced 8 come out right, not as a reshaped multiple of 8."""
    record = tiny_export.manifest.modules["temporal_upsampler"]
    runner = OrtRunner(tiny_export.directory / record.onnx)
    latents = torch.randn(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out = runner.run({"latents": latents})["upsampled"]
    assert out.shape == (1, 4, 5, 8, 8)
    torch.testing.assert_close(out[:, :, ::2], latents)  # the original frames pass through unchanged
    with torch.no_grad():
        torch.testing.assert_close(out, tiny_export.pipe.temporal_upsampler(latents), rtol=1e-4, atol=1e-5)


def test_manifest_records_each_module(tiny_export) -> None:
    manifest = Manifest.read(tiny_export.directory)
    assert set(manifest.modules) == set(SPECS)
    assert manifest.opset == OPSET
    assert {"torch", "onnx", "onnxruntime", "diffusers"} <= set(manifest.versions)
    assert manifest.versions["torch"].startswith(torch.__version__.split("+")[0])
    for name, record in manifest.modules.items():
        component = getattr(tiny_export.pipe, SPECS[name].component)
        assert record.weights_sha256["float32"] == weights_sha256(component)
        assert len(set(record.weights_sha256.values())) == 3  # fp32, fp16, bf16 casts all differ
        path = tiny_export.directory / record.onnx
        onnx.checker.check_model(str(path))
        graph = onnx.load(str(path)).graph
        assert [i.name for i in graph.input] == SPECS[name].input_names
        assert [o.name for o in graph.output] == SPECS[name].output_names
        assert not record.external_data


def test_profile_shapes_follow_the_preset(tiny_export) -> None:
    """Tiny preset: 32 px default -> 16..64 px; base stage at 1/4 of the pixels, classifier-free guidance
    doubles the UNet batch; the base stage takes up to max_base_frames=16."""
    profile = tiny_export.manifest.modules["base_unet"].profile
    assert profile["sample"] == [[1, 4, 1, 4, 4], [2, 4, 8, 8, 8], [4, 4, 16, 16, 16]]
    assert profile["encoder_hidden_states"] == [[1, 77, 32], [2, 77, 32], [4, 77, 32]]
    assert tiny_export.manifest.modules["sr_unet"].profile["sample"][2] == [4, 4, 16, 32, 32]
    assert tiny_export.manifest.modules["temporal_upsampler"].profile["latents"][0] == [1, 4, 2, 8, 8]
    assert tiny_export.manifest.modules["text_encoder"].profile["input_ids"] == [[1, 77], [1, 77], [2, 77]]


def test_export_keeps_current_files_and_redoes_changed_weights(fresh_pipe, tmp_path) -> None:
    export_pipeline(fresh_pipe, tmp_path, modules=["text_encoder"], verify=False)
    onnx_file = tmp_path / "onnx" / "text_encoder.onnx"
    first = onnx_file.stat().st_mtime_ns
    manifest = Manifest.read(tmp_path)
    manifest.engines["k"] = EngineRecord(
        key="k",
        module="text_encoder",
        file="tensorrt/text_encoder-k.plan",
        precision="fp16",
        weights_sha256=manifest.modules["text_encoder"].weights_sha256["float32"],
        gpu="g",
        tensorrt="10",
        profile={},
    )
    manifest.write(tmp_path)

    export_pipeline(fresh_pipe, tmp_path, modules=["text_encoder"], verify=False)
    assert onnx_file.stat().st_mtime_ns == first
    assert "k" in Manifest.read(tmp_path).engines

    with torch.no_grad():
        next(iter(fresh_pipe.text_encoder.parameters())).add_(0.1)
    updated = export_pipeline(fresh_pipe, tmp_path, modules=["text_encoder"], verify=False)
    assert onnx_file.stat().st_mtime_ns != first
    record = updated.modules["text_encoder"]
    assert record.weights_sha256["float32"] == weights_sha256(fresh_pipe.text_encoder)
    assert "k" not in updated.engines  # built from the old weights: dropped


def test_large_weights_go_to_external_data(fresh_pipe, tmp_path) -> None:
    manifest = export_pipeline(
        fresh_pipe, tmp_path, modules=["text_encoder"], verify=True, external_data_bytes=0
    )
    record = manifest.modules["text_encoder"]
    assert record.external_data
    data = tmp_path / "onnx" / "text_encoder.onnx.data"
    assert data.stat().st_size > (tmp_path / record.onnx).stat().st_size
    assert record.parity["checks"][1]["relative_error"] < PARITY_TOLERANCE
    assert not list((tmp_path / "onnx").glob(".*"))  # the scratch folder is gone


def test_parity_check_catches_a_graph_that_does_not_match(tiny_export, fresh_pipe) -> None:
    spec = SPECS["vae_decoder"]
    record = tiny_export.manifest.modules["vae_decoder"]
    geometry = Geometry.of(fresh_pipe)
    ranges = ShapeRanges.defaults(fresh_pipe)
    result = check_parity(spec, fresh_pipe.vae, record, geometry, ranges, tiny_export.directory)
    assert all(c["relative_error"] < PARITY_TOLERANCE for c in result["checks"])
    with torch.no_grad():
        fresh_pipe.vae.decoder.conv_out.bias.add_(1.0)
    with pytest.raises(ExportError, match="differs from torch"):
        check_parity(spec, fresh_pipe.vae, record, geometry, ranges, tiny_export.directory)


def test_export_refuses_half_precision_weights(fresh_pipe, tmp_path) -> None:
    fresh_pipe.text_encoder.half()
    with pytest.raises(ExportError, match="fp32"):
        export_pipeline(fresh_pipe, tmp_path, modules=["text_encoder"])


def test_unknown_module_is_named(fresh_pipe, tmp_path) -> None:
    with pytest.raises(ValueError, match="unet9"):
        export_pipeline(fresh_pipe, tmp_path, modules=["unet9"])
