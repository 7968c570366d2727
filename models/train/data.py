"""Training data: random clips from a folder of videos (WebVid layout) or from the synthetic world.

Every source is a ``ClipSource``: ``sample(batch_size)`` returns a batch dict

    {"video": float32 (B, F, 3, H, W) in [-1, 1], "caption": list[str] (empty strings when captionless)}

plus, from a finite pool of clips, ``"keys"``: one hashable per clip, equal keys meaning equal clips.

drawn with the source's own ``numpy`` generator, whose state is part of a training checkpoint (``state_dict`` /
``load_state_dict``), so a resumed run draws exactly the batches the interrupted run would have drawn.

When several processes train (data parallel), the trainer calls ``shard(rank, world_size)`` once on each
process's source: the process then draws only from its share of the clips (every ``world_size``-th video or pool
scene, from ``rank`` on) with its own generator (seed ``seed + rank``), so no two processes see the same clip.

Folder layout (WebVid's, reduced to what training needs)::

    DIR/captions.csv   columns: videoid, name (the caption), path (relative to DIR)
    DIR/videos/*.mp4

A folder without ``captions.csv`` is read as unlabeled video (every ``*.mp4`` under it), for the temporal
upsampler and the video decoder.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from core.media import read_video, write_mp4
from models import world

logger = logging.getLogger(__name__)

CAPTIONS_FILE = "captions.csv"
CSV_COLUMNS = ("videoid", "name", "path")


class ClipSource(Protocol):
    """Anything that draws random training clips."""

    def sample(self, batch_size: int) -> dict[str, Any]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def shard(self, rank: int, world_size: int) -> None: ...


def check_shard(rank: int, world_size: int, count: int | None = None, what: str = "clips") -> None:
    """Raise ``ValueError`` unless ``0 <= rank < world_size`` and (when ``count`` is given) each of the
    ``world_size`` shards of ``count`` items gets at least one."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"invalid shard {rank} of {world_size}")
    if count is not None and count < world_size:
        raise ValueError(f"{count} {what} cannot be shared among {world_size} processes (at least one each)")


@dataclass(frozen=True)
class ClipSpec:
    """What a clip looks like: ``num_frames`` frames taken every ``frame_stride`` source frames (one stride is
    drawn per batch from the tuple), resized and centre-cropped to ``size`` x ``size`` pixels."""

    num_frames: int
    size: int
    frame_strides: tuple[int, ...] = (1,)

    def __post_init__(self) -> None:
        if self.num_frames < 1 or self.size < 1 or not self.frame_strides or min(self.frame_strides) < 1:
            raise ValueError(f"invalid clip spec {self}")


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> float32 (F, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def resize_center_crop(video: torch.Tensor, size: int) -> torch.Tensor:
    """(F, 3, H, W) -> (F, 3, size, size): scale the short side to ``size`` (antialiased), crop the centre."""
    _, _, height, width = video.shape
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    if (new_h, new_w) != (height, width):
        video = F.interpolate(
            video, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        )
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return video[:, :, top : top + size, left : left + size]


class VideoFolder:
    """Random clips from a folder of MP4s, captioned (``captions.csv``) or not.

    Videos are decoded with ``core.media.read_video`` (imageio-ffmpeg) when drawn; a video shorter than a clip
    is skipped for that draw (another is drawn), and a folder where no video is long enough is an error.
    """

    def __init__(self, root: str | Path, spec: ClipSpec, seed: int = 0) -> None:
        self.root = Path(root)
        self.spec, self.seed = spec, seed
        self.rng = np.random.default_rng(seed)
        if not self.root.is_dir():
            raise FileNotFoundError(f"data folder {self.root} does not exist")
        self.items = self._index()
        if not self.items:
            raise FileNotFoundError(f"no videos in {self.root}")

    def _index(self) -> list[tuple[Path, str]]:
        captions = self.root / CAPTIONS_FILE
        if not captions.is_file():
            return [(p, "") for p in sorted(self.root.rglob("*.mp4"))]
        items = []
        with captions.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{captions} lacks columns {missing}; expected {list(CSV_COLUMNS)}")
            for row in reader:
                path = self.root / row["path"]
                if not path.is_file():
                    raise FileNotFoundError(f"{captions}: video {row['videoid']} at {path} does not exist")
                items.append((path, row["name"]))
        return items

    def __len__(self) -> int:
        return len(self.items)

    def shard(self, rank: int, world_size: int) -> None:
        """Keep every ``world_size``-th video from ``rank`` on; draw with seed ``seed + rank``."""
        check_shard(rank, world_size, len(self.items), f"videos in {self.root}")
        self.items = self.items[rank::world_size]
        self.rng = np.random.default_rng(self.seed + rank)

    def _clip(self, index: int, stride: int) -> torch.Tensor | None:
        frames = read_video(self.items[index][0])  # (T, H, W, 3)
        span = (self.spec.num_frames - 1) * stride + 1
        if len(frames) < span:
            return None
        start = int(self.rng.integers(len(frames) - span + 1))
        clip = frames[start : start + span : stride]
        return resize_center_crop(to_tensor(np.ascontiguousarray(clip)), self.spec.size)

    def sample(self, batch_size: int) -> dict[str, Any]:
        stride = int(self.rng.choice(self.spec.frame_strides))
        videos, captions, failures = [], [], 0
        while len(videos) < batch_size:
            index = int(self.rng.integers(len(self.items)))
            clip = self._clip(index, stride)
            if clip is None:
                failures += 1
                if failures > 20 * batch_size:
                    raise ValueError(
                        f"videos in {self.root} are too short for {self.spec.num_frames} frames at stride {stride}"
                    )
                continue
            videos.append(clip)
            captions.append(self.items[index][1])
        return {"video": torch.stack(videos), "caption": captions}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


class WorldClips:
    """Clips of the synthetic world rendered in memory: the fast path for the demo (no decoding).

    ``pool_size`` > 0 renders that many scenes once (seeded) and draws from them; 0 renders every clip fresh.
    Held-out combinations are excluded unless ``include_held_out``. ``textured`` is the share of scenes with
    textured backgrounds and shapes (``world.Scene.texture``; their captions do not say so), for stages that
    learn from unlabeled video; it is drawn from its own generator, so the plain scenes stay the same.
    """

    def __init__(
        self,
        spec: ClipSpec,
        seed: int = 0,
        pool_size: int = 0,
        include_held_out: bool = False,
        textured: float = 0.0,
    ) -> None:
        if not 0.0 <= textured <= 1.0:
            raise ValueError(f"textured is a share of clips in [0, 1], got {textured}")
        self.spec, self.seed, self.textured = spec, seed, textured
        self.rng = np.random.default_rng(seed)
        self.texture_rng = np.random.default_rng([seed, 2])
        self.held_out = None if include_held_out else False
        pool_rng = np.random.default_rng([seed, 1])
        span = (spec.num_frames - 1) * max(spec.frame_strides) + 1
        self.pool: list[world.Scene] = [self._scene(pool_rng, span) for _ in range(pool_size)]
        self.indices = list(range(pool_size))  # the pool scenes this process draws from (see ``shard``)
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def shard(self, rank: int, world_size: int) -> None:
        """Draw from every ``world_size``-th pool scene from ``rank`` on (keys keep the pool index), with seed
        ``seed + rank``; without a pool, every process renders fresh scenes from its own generator."""
        if self.pool:
            check_shard(rank, world_size, len(self.pool), "pool scenes")
            self.indices = list(range(rank, len(self.pool), world_size))
        else:
            check_shard(rank, world_size)
        self.rng = np.random.default_rng(self.seed + rank)
        self.texture_rng = np.random.default_rng([self.seed + rank, 2])

    def _scene(self, rng: np.random.Generator, span: int) -> world.Scene:
        textured = self.textured > 0 and bool(self.texture_rng.random() < self.textured)
        return world.sample_scene(rng, self.spec.size, span, held_out=self.held_out, textured=textured)

    def _render(self, scene: world.Scene, stride: int) -> np.ndarray:
        # Every ``stride``-th frame of the clip is the clip of a scene ``stride`` times as fast.
        return world.render(replace(scene, speed=scene.speed * stride), self.spec.size, self.spec.num_frames)

    def sample(self, batch_size: int) -> dict[str, Any]:
        stride = int(self.rng.choice(self.spec.frame_strides))
        span = (self.spec.num_frames - 1) * stride + 1
        videos, captions, keys = [], [], []
        for _ in range(batch_size):
            if self.pool:
                index = self.indices[int(self.rng.integers(len(self.indices)))]
                key = (index, stride)
                if key not in self._cache:
                    self._cache[key] = self._render(self.pool[index], stride)
                frames, scene = self._cache[key], self.pool[index]
                keys.append(key)
            else:
                scene = self._scene(self.rng, span)
                frames = self._render(scene, stride)
            videos.append(to_tensor(frames))
            captions.append(scene.caption)
        batch: dict[str, Any] = {"video": torch.stack(videos), "caption": captions}
        if keys:
            batch["keys"] = keys  # the same key is the same clip: stages may cache what they derive from it
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "texture_rng": self.texture_rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        if "texture_rng" in state:  # checkpoints from before textured clips have none
            self.texture_rng.bit_generator.state = state["texture_rng"]


def open_source(
    data: str, spec: ClipSpec, seed: int, pool_size: int = 0, textured: float = 0.0
) -> ClipSource:
    """``data`` is ``"world"`` (rendered in memory, ``textured`` of it textured) or a folder of videos."""
    if data == "world":
        return WorldClips(spec, seed=seed, pool_size=pool_size, textured=textured)
    if textured:
        raise ValueError("textured clips are a world option; a video folder holds what it holds")
    return VideoFolder(data, spec, seed=seed)


def write_world_folder(
    out: str | Path,
    clips: int,
    size: int = 64,
    num_frames: int = 16,
    seed: int = 0,
    include_held_out: bool = False,
    fps: float = 8.0,
    captions: bool = True,
) -> list[dict[str, str]]:
    """Render ``clips`` world clips as MP4s under ``out/videos`` and (with ``captions``) ``out/captions.csv``.

    Returns the CSV rows. Held-out combinations are excluded unless ``include_held_out``.
    """
    out = Path(out)
    videos = out / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(clips):
        scene = world.sample_scene(rng, size, num_frames, held_out=None if include_held_out else False)
        videoid = f"{i:06d}"
        path = videos / f"{videoid}.mp4"
        write_mp4(world.render(scene, size, num_frames), path, fps=fps)
        rows.append({"videoid": videoid, "name": scene.caption, "path": path.relative_to(out).as_posix()})
    if captions:
        with (out / CAPTIONS_FILE).open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(CSV_COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
    logger.info("wrote %d clips to %s", clips, out)
    return rows
