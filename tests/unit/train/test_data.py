"""Reading training clips from a WebVid-layout folder written by ``videogen world make``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from cli.main import main
from core.media import read_video
from models import world
from models.train.data import ClipSpec, VideoFolder, WorldClips, resize_center_crop


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    assert main(["world", "make", "--out", str(out), "--clips", "6", "--size", "32", "--frames", "12"]) == 0
    return out


def test_world_make_writes_the_webvid_layout_without_held_out_combinations(folder: Path) -> None:
    with (folder / "captions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and list(rows[0]) == ["videoid", "name", "path"]
    for row in rows:
        attrs = world.parse_caption(row["name"])
        assert attrs is not None
        assert (attrs["colour"], attrs["shape"], attrs["direction"]) not in world.HELD_OUT
        assert read_video(folder / row["path"]).shape == (12, 32, 32, 3)


def test_folder_clips_follow_the_stride_and_carry_their_captions(folder: Path) -> None:
    source = VideoFolder(folder, ClipSpec(num_frames=4, size=32, frame_strides=(3,)), seed=0)
    batch = source.sample(3)
    assert batch["video"].shape == (3, 4, 3, 32, 32)
    assert batch["video"].min() >= -1 and batch["video"].max() <= 1
    captions = {row.split(",")[1] for row in (folder / "captions.csv").read_text().splitlines()[1:]}
    assert set(batch["caption"]) <= captions
    # Span 10 of 12 frames: the shape moves between the first and last frame of every clip.
    moved = (batch["video"][:, 0] - batch["video"][:, -1]).abs().amax(dim=(1, 2, 3))
    assert (moved > 0.5).all()


def test_folder_sampling_is_reproducible_from_its_state(folder: Path) -> None:
    source = VideoFolder(folder, ClipSpec(num_frames=2, size=16), seed=3)
    state = source.state_dict()
    first = source.sample(2)
    source.load_state_dict(state)
    again = source.sample(2)
    assert torch.equal(first["video"], again["video"]) and first["caption"] == again["caption"]


def test_a_folder_without_captions_is_unlabeled_video(folder: Path, tmp_path: Path) -> None:
    for mp4 in (folder / "videos").glob("*.mp4"):
        (tmp_path / mp4.name).write_bytes(mp4.read_bytes())
    batch = VideoFolder(tmp_path, ClipSpec(num_frames=3, size=32), seed=0).sample(2)
    assert batch["caption"] == ["", ""]


def test_clips_longer_than_the_videos_are_an_error(folder: Path) -> None:
    with pytest.raises(ValueError, match="too short"):
        VideoFolder(folder, ClipSpec(num_frames=20, size=32), seed=0).sample(1)


def test_a_csv_without_the_webvid_columns_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "captions.csv").write_text("id,text\n1,hello\n")
    with pytest.raises(ValueError, match="lacks columns"):
        VideoFolder(tmp_path, ClipSpec(num_frames=1, size=8))


def test_world_clips_with_a_stride_are_every_nth_rendered_frame() -> None:
    source = WorldClips(ClipSpec(num_frames=3, size=32, frame_strides=(4,)), seed=0, pool_size=1)
    clip = source.sample(1)["video"][0]
    scene = source.pool[0]
    full = world.render(scene, 32, 9)[::4]
    expected = torch.from_numpy(np.ascontiguousarray(full)).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert torch.allclose(clip, expected, atol=1 / 127.5)


def test_resize_center_crop_keeps_the_middle() -> None:
    video = torch.zeros(1, 3, 20, 40)
    video[..., 10:30] = 1.0  # the central 20 columns
    out = resize_center_crop(video, 10)
    assert out.shape == (1, 3, 10, 10)
    assert out[..., 1:-1].min() > 0.99 and out.min() > 0.5  # only the antialiased border blends in


def test_world_shards_split_the_pool_and_a_pool_too_small_to_share_is_an_error() -> None:
    spec = ClipSpec(num_frames=2, size=16)
    shards = [WorldClips(spec, seed=0, pool_size=4) for _ in range(2)]
    for rank, shard in enumerate(shards):
        shard.shard(rank, 2)
    drawn = [{index for index, _ in shard.sample(8)["keys"]} for shard in shards]
    assert drawn[0] <= {0, 2} and drawn[1] <= {1, 3}  # keys keep the pool index
    with pytest.raises(ValueError, match="cannot be shared"):
        WorldClips(spec, seed=0, pool_size=1).shard(0, 2)


def test_folder_shards_hold_every_nth_video(folder: Path) -> None:
    spec = ClipSpec(num_frames=2, size=16)
    every = VideoFolder(folder, spec, seed=0).items
    shard = VideoFolder(folder, spec, seed=0)
    shard.shard(1, 4)
    assert shard.items == every[1::4] and len(shard.items) == 2
