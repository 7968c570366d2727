"""``videogen export``: ONNX export from the command line, and clear refusals."""

from __future__ import annotations

import importlib.util
import json

import pytest

from cli.main import main

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def test_export_tiny_modules(tmp_path, capsys) -> None:
    out = tmp_path / "engines"
    modules = "--modules text_encoder,temporal_upsampler --frames 2:4:8 --height 16:32:32 --width 32 -q"
    rc = main(["export", "--model", "tiny", "--out", str(out), *modules.split()])
    assert rc == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["modules"]) == {"text_encoder", "temporal_upsampler"}
    assert manifest["shape_ranges"]["frames"] == [2, 4, 8]
    upsampler = manifest["modules"]["temporal_upsampler"]
    assert upsampler["profile"]["latents"] == [[1, 4, 2, 8, 16], [1, 4, 4, 16, 16], [2, 4, 8, 16, 16]]
    assert all(c["relative_error"] < 1e-4 for c in upsampler["parity"]["checks"])
    assert (out / "onnx" / "temporal_upsampler.onnx").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--modules", "unet9"], "unknown modules ['unet9']"),
        (["--fp16"], "--fp16/--bf16 apply to TensorRT engines"),
        (["--frames", "8:4:16"], "frames range 8:4:16"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, argv: list[str], message: str) -> None:
    rc = main(["export", "--model", "tiny", "--out", str(tmp_path), *argv])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_malformed_range_is_an_argparse_error(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--model", "tiny", "--out", str(tmp_path), "--height", "1:2"])
    assert "is not MIN:OPT:MAX" in capsys.readouterr().err


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here")
def test_tensorrt_format_without_tensorrt_fails_before_exporting(tmp_path, capsys) -> None:
    rc = main(["export", "--model", "tiny", "--out", str(tmp_path / "e"), "--format", "tensorrt", "--fp16"])
    assert rc == 2
    assert "cannot build TensorRT engines here: package not installed" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()
