"""export.prewarm: ONNX Runtime sessions of the engine cache opened in the background by a cold
``videogen generate``, handed over only for the same file, unchanged, with the same options."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from export import prewarm

pytest.importorskip("onnxruntime")


def identity_graph(path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n"])
    graph = helper.make_graph([helper.make_node("Identity", ["input_ids"], ["out"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


@pytest.fixture
def cache(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(data dir, model folder, cache folder) with text_encoder and video_decoder graphs and a source record."""
    model = tmp_path / "model"
    (model / "text_encoder").mkdir(parents=True)
    (model / "text_encoder" / "model.safetensors").write_bytes(b"weights")
    folder = tmp_path / "data" / prewarm.CACHE_DIRNAME / "0123456789abcdef"
    for name in ("text_encoder", "video_decoder"):
        identity_graph(folder / "onnx" / f"{name}.onnx")
    modules = {n: {"onnx": f"onnx/{n}.onnx"} for n in ("text_encoder", "video_decoder")}
    (folder / "manifest.json").write_text(json.dumps({"modules": modules}))
    prewarm.remember(folder, model)
    yield tmp_path / "data", model, folder
    prewarm.discard()


def test_the_cache_folder_is_found_by_the_model_folder_and_its_unchanged_weights(cache):
    data, model, folder = cache
    root = data / prewarm.CACHE_DIRNAME
    assert prewarm.find(root, model.resolve()) == folder
    assert prewarm.find(root, (model / "text_encoder").resolve()) is None  # another folder
    (model / "text_encoder" / "model.safetensors").write_bytes(b"other weights")
    assert prewarm.find(root, model.resolve()) is None  # retrained: the guess is not made


def test_auto_opens_the_cpu_onnxruntime_modules_and_hands_each_over_once(cache):
    data, model, folder = cache
    assert prewarm.start(data, model, "auto") == ["text_encoder"]  # the video decoder stays on torch
    path = folder / "onnx" / "text_encoder.onnx"
    assert prewarm.take(path, 2, ["CPUExecutionProvider"]) is None  # other options: not this session
    prewarm.start(data, model, "auto")
    session = prewarm.take(path, None, ["CPUExecutionProvider"])
    assert session is not None and [i.name for i in session.get_inputs()] == ["input_ids"]
    assert prewarm.take(path, None, ["CPUExecutionProvider"]) is None
    assert prewarm.start(data, model, "torch") == []
    assert prewarm.start(data, "tiny", "auto") == []  # a preset has no folder


def test_a_file_changed_after_opening_is_not_handed_over(cache):
    data, model, folder = cache
    assert prewarm.start(data, model, "onnxruntime") == ["text_encoder", "video_decoder"]
    path = folder / "onnx" / "video_decoder.onnx"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert prewarm.take(path, None, ["CPUExecutionProvider"]) is None


def test_the_runner_takes_the_prewarmed_session(cache):
    from export.ort_session import OrtRunner

    data, model, folder = cache
    prewarm.start(data, model, "auto")
    path = folder / "onnx" / "text_encoder.onnx"
    with prewarm._lock:
        opened = prewarm._opened[os.path.realpath(path)]
    runner = OrtRunner(path, "cpu")
    assert runner.session is opened.session
    assert OrtRunner(path, "cpu").session is not opened.session  # later runners open their own
