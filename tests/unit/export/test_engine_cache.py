"""The automatic ONNX export cache under the data dir: written on the first load, reused on the next, exported
again with a logged reason when a file is corrupt or the manifest is unreadable or from other versions."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import export.cache
import export.onnx_export
from export.cache import cache_root, module_hashes, pipeline_key
from export.manifest import Manifest, file_sha256
from models.loading import build_pipeline, load_pipeline
from worker.runtime import load_model

# Two small modules stand in for the table measured on the demo model, so that each export here takes well under
# a second; which modules the table names is data (docs/performance.md), the mechanism is what is tested.
CHEAP = frozenset({"text_encoder", "temporal_upsampler"})


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny preset saved as a model folder: the cache serves saved models under ``auto``."""
    folder = tmp_path_factory.mktemp("tiny-model")
    build_pipeline("tiny").save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def cheap_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export.cache, "CPU_ONNXRUNTIME_MODULES", CHEAP)


def load(folder: Path, data_dir: Path, backend: str = "auto"):
    return load_model(folder, device="cpu", dtype="auto", backend=backend, data_dir=data_dir)


def cache_dir_of(data_dir: Path) -> Path:
    """The one cache folder (the loaded pipeline holds wrappers now, so its key is taken from the folder)."""
    (directory,) = [p for p in cache_root(data_dir).iterdir() if p.is_dir()]
    return directory


def refuse_exports(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("exported although the cache was current")

    monkeypatch.setattr(export.onnx_export, "export_pipeline", fail)


def test_first_load_exports_into_the_cache_and_the_second_reuses_it(
    tiny_folder, tmp_path, monkeypatch
) -> None:
    pipe, choices = load(tiny_folder, tmp_path)
    directory = cache_dir_of(tmp_path)
    assert directory.name == pipeline_key(module_hashes(load_pipeline(tiny_folder)))  # keyed by the weights
    manifest = Manifest.read(directory)
    assert set(manifest.modules) == CHEAP  # only what auto runs on ONNX Runtime is exported
    for name in CHEAP:
        assert choices[name].backend == "onnxruntime", choices[name].reason
    assert choices["base_unet"].backend == "torch"
    assert choices["base_unet"].reason.startswith("onnxruntime: slower than torch on CPU for this module")
    out = pipe("a red ball", seed=0, num_frames=3, num_inference_steps=1)
    assert out.frames.shape == (1, 3, 32, 32, 3)
    assert pipe.temporal_upsampler.accelerated_calls == 1  # the cached graph ran

    stamps = {p: p.stat().st_mtime_ns for p in directory.rglob("*") if p.is_file()}
    refuse_exports(monkeypatch)
    _, choices = load(tiny_folder, tmp_path)
    assert {n: c.backend for n, c in choices.items() if n in CHEAP} == dict.fromkeys(CHEAP, "onnxruntime")
    assert {p: p.stat().st_mtime_ns for p in directory.rglob("*") if p.is_file()} == stamps


def corrupt_graph(directory: Path) -> str:
    path = directory / "onnx" / "text_encoder.onnx"
    path.write_bytes(path.read_bytes()[:100])  # truncated
    return "text_encoder onnx/text_encoder.onnx is corrupt"


def unreadable_manifest(directory: Path) -> str:
    (directory / "manifest.json").write_text("{not json")
    return "unreadable manifest"


def other_versions(directory: Path) -> str:
    raw = json.loads((directory / "manifest.json").read_text())
    raw["versions"]["torch"] = "1.0.0"
    (directory / "manifest.json").write_text(json.dumps(raw))
    return "exported with other versions (torch 1.0.0 ->"


def test_a_broken_or_stale_cache_is_exported_again_with_the_reason_logged(
    tiny_folder, tmp_path, caplog, monkeypatch
) -> None:
    monkeypatch.setattr(export.cache, "CPU_ONNXRUNTIME_MODULES", frozenset({"text_encoder"}))
    load(tiny_folder, tmp_path)
    directory = cache_dir_of(tmp_path)
    for damage in (corrupt_graph, unreadable_manifest, other_versions):
        reason = damage(directory)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="export"):
            _, choices = load(tiny_folder, tmp_path)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(reason in w for w in warnings), (damage.__name__, warnings)
        assert choices["text_encoder"].backend == "onnxruntime", choices["text_encoder"].reason
        record = Manifest.read(directory).modules["text_encoder"]
        for relative, sha in record.files_sha256.items():
            assert file_sha256(directory / relative) == sha  # written again, and recorded again


def test_onnxruntime_exports_every_module_even_of_a_preset(tmp_path, monkeypatch) -> None:
    """``--backend onnxruntime`` asks for the export: presets too, every module the pipeline has (the cache is
    told the pipeline has only the two cheap ones, to keep the export short)."""
    monkeypatch.setattr(export.cache, "exportable_modules", lambda pipe: sorted(CHEAP))
    _, choices = load_model("tiny", device="cpu", backend="onnxruntime", data_dir=tmp_path)
    assert set(Manifest.read(cache_dir_of(tmp_path)).modules) == CHEAP
    assert all(choices[name].backend == "onnxruntime" for name in CHEAP)
    _, choices = load_model("tiny", device="cpu", backend="auto", data_dir=tmp_path)
    assert {c.backend for c in choices.values()} == {"torch"}  # a preset under auto: not exported, not used


def test_a_non_float32_pipeline_does_not_use_the_float32_cache(tiny_folder, tmp_path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="export"):
        _, choices = load_model(
            tiny_folder, device="cpu", dtype="bfloat16", backend="auto", data_dir=tmp_path
        )
    assert {c.backend for c in choices.values()} == {"torch"}
    assert not cache_root(tmp_path).exists()
    assert any("engine cache skipped: the pipeline is bfloat16" in r.getMessage() for r in caplog.records)
