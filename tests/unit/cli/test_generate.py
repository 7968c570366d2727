"""``videogen generate`` end to end, in a subprocess as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from core.media import read_video

PROMPT = "a green square moving right on a gray background"


def videogen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_generate_writes_a_browser_playable_mp4_and_the_reference(tmp_path: Path) -> None:
    options = (
        "--model tiny --frames 9 --height 24 --width 40 --steps 2 --upsample 2 --seed 3 --save-reference"
    )
    args = ["generate", PROMPT, *options.split()]
    run = videogen(*args, "-o", "a.mp4", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    backends, *bars = run.stderr.splitlines()
    assert backends.startswith("backends: reference torch, base torch")  # a preset stays on torch under auto
    for stage in ("reference", "base", "super_resolution", "temporal_upsampling", "decode"):
        assert stage in "\n".join(bars)  # one progress bar per stage
    frames = read_video(tmp_path / "a.mp4")
    assert frames.shape == (9, 24, 40, 3)
    meta = iio.immeta(tmp_path / "a.mp4", plugin="FFMPEG")
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert iio.imread(tmp_path / "a.reference.png").shape == (24, 40, 3)

    # Same seed and arguments: byte-identical frames (and file).
    again = videogen(*args, "-o", "b.mp4", "-q", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert np.array_equal(frames, read_video(tmp_path / "b.mp4"))
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_generate_on_onnxruntime_with_an_engine_folder(tmp_path: Path) -> None:
    """``--backend onnxruntime --engines DIR``: the exported modules run on ONNX Runtime, the others fall back
    to torch with a logged reason, and the video is written. (Two small modules keep the export cheap.)"""
    from export.onnx_export import export_pipeline
    from models.loading import load_pipeline

    export_pipeline(
        load_pipeline("tiny"), tmp_path / "engines", modules=["text_encoder", "vae_decoder"], verify=False
    )
    args = [
        "--model",
        "tiny",
        "--backend",
        "onnxruntime",
        "--engines",
        "engines",
        "--frames",
        "3",
        "--steps",
        "1",
    ]
    run = videogen("generate", PROMPT, *args, "-o", "o.mp4", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "backends: reference onnxruntime+torch, base torch," in run.stderr
    assert "base_unet runs on onnxruntime: base_unet is not exported in engines -> torch" in run.stderr
    assert read_video(tmp_path / "o.mp4").shape == (3, 32, 32, 3)


def test_generate_from_a_reference_image(tmp_path: Path) -> None:
    iio.imwrite(tmp_path / "ref.png", np.full((64, 64, 3), (40, 80, 220), dtype=np.uint8))
    options = "--model tiny --reference ref.png --steps 2 -q --frames 3 -o r.mp4 --save-reference"
    run = videogen("generate", PROMPT, *options.split(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    reference = iio.imread(tmp_path / "r.reference.png")
    assert reference.shape == (32, 32, 3) and tuple(reference[16, 16]) == (40, 80, 220)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--width", "30"], "width=30 must be a positive multiple of 8"),
        (["--frames", "64", "--upsample", "0"], "needs 64 base frames"),
        (["--reference", "missing.png"], "cannot read reference image missing.png"),
        (["--reference", "not-an-image.png"], "cannot read reference image not-an-image.png"),
        (["--model", "no-such-folder"], "model folder no-such-folder does not exist"),
        (["--model", "empty"], "empty/model_index.json is missing"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "not-an-image.png").write_text("hello")
    (tmp_path / "empty").mkdir()
    model = [] if "--model" in args else ["--model", "tiny"]
    run = videogen("generate", PROMPT, *model, *args, "-q", cwd=tmp_path)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("videogen generate: error:")
    assert not (tmp_path / "out.mp4").exists()


def test_empty_prompt_is_refused_before_loading_anything(tmp_path: Path) -> None:
    run = videogen("generate", "   ", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip() == "videogen generate: error: prompt must be a non-empty string"
