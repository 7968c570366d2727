"""``videogen init --from-sd``: the folder it writes generates an MP4 and fine-tunes with ``videogen train``."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import pytest

from cli.main import main
from models.loading import load_pipeline


@pytest.fixture(scope="module")
def model_dir(tiny_sd_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sd_dir = tiny_sd_dir
    out = tmp_path_factory.mktemp("vg") / "model"
    assert main(["init", "--from-sd", str(sd_dir), "--out", str(out)]) == 0
    return out


def test_init_writes_a_folder_that_loads_and_generates_a_playable_mp4(
    model_dir: Path, tmp_path: Path
) -> None:
    pipe = load_pipeline(model_dir)
    assert pipe.config.default_temporal_upsampling == 0
    video = tmp_path / "out.mp4"
    argv = ["generate", "a red square", "--model", str(model_dir), "--frames", "4", "--steps", "2"]
    assert main([*argv, "--height", "32", "--width", "32", "-q", "-o", str(video)]) == 0
    frames = iio.imread(video)
    assert frames.shape == (4, 32, 32, 3)


def test_train_fine_tunes_from_the_initialised_folder(model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "clips"
    assert main(["world", "make", "--out", str(data), "--clips", "3", "--size", "32", "--frames", "17"]) == 0
    workdir = tmp_path / "run"
    argv = ["train", "base", "--workdir", str(workdir), "--init", str(model_dir), "--data", str(data)]
    assert main([*argv, "--steps", "2", "--batch-size", "2", "--warmup", "1", "--threads", "1"]) == 0
    assert (workdir / "base" / "model" / "config.json").is_file()


def test_init_from_a_folder_that_is_not_sd_fails_naming_what_is_missing(tmp_path: Path, capsys) -> None:
    (tmp_path / "sd" / "vae").mkdir(parents=True)
    assert main(["init", "--from-sd", str(tmp_path / "sd"), "--out", str(tmp_path / "out")]) == 2
    assert "unet" in capsys.readouterr().err
