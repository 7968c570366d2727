"""``evaluate``: generate every prompt with several seeds and score the videos.

Per sample: world correctness from the pixels (world captions only), temporal consistency, and CLIPSIM when a
local CLIP is given. Over the whole set: FVD against rendered ground-truth world clips of the same captions and
IS, when their local feature networks are given. A metric whose model is missing is reported as not available,
never estimated some other way.

Each finished sample is appended to ``samples.jsonl`` (and its frames saved as ``videos/<hash>.npy``) in the output
folder, so a crash loses at most the sample in flight and ``resume=True`` picks up where the run stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.eval.clipsim import ClipScorer
from models.eval.feature_models import FeatureNet
from models.eval.frechet import fvd
from models.eval.generation import GenerationSettings, Variant, generate_latents, render_variant
from models.eval.inception_score import inception_score
from models.eval.temporal import mean_frame_difference, warping_error
from models.eval.world_metrics import score_world_video
from models.pipeline_videogen import VideoGenPipeline
from models.world import HELD_OUT, parse_caption, render, sample_scene

logger = logging.getLogger(__name__)

NO_LOCAL_MODEL = "not available (no local model)"
SAMPLES_FILE = "samples.jsonl"
VIDEOS_DIR = "videos"


def prompt_group(prompt: str) -> str:
    """``held_out`` or ``seen`` for a world caption (by its colour-shape-direction triple), else ``other``."""
    attrs = parse_caption(prompt)
    if attrs is None:
        return "other"
    return "held_out" if (attrs["colour"], attrs["shape"], attrs["direction"]) in HELD_OUT else "seen"


@dataclass
class SampleRecord:
    """The scores of one generated video. Temporal errors are in 8-bit levels (0-255)."""

    index: int
    prompt: str
    seed: int
    group: str
    warping_error: float
    frame_difference: float
    seconds: float  # generation and decoding time of this sample
    world: dict[str, Any] | None = None  # ``WorldScore.to_dict()`` for world captions
    clipsim: float | None = None
    background_flicker: float | None = None  # ``shape_quality.background_flicker`` (decoder ablation)
    shape: dict[str, Any] | None = None  # ``ShapeQuality.to_dict()`` (decoder ablation, world captions)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvalResult:
    """Everything a report shows: the run's settings, per-sample records and set-level metrics."""

    settings: dict[str, Any]
    samples: list[SampleRecord]
    set_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    videos: list[np.ndarray] = field(default_factory=list)  # uint8 (F, H, W, 3), one per sample, in order


def settings_key(settings: dict[str, Any]) -> str:
    """A short hash of the settings a sample depends on, so ``resume`` never mixes runs."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def ground_truth_clip(prompt: str, seed: int, size: int, num_frames: int) -> np.ndarray:
    """A rendered world clip for a world caption (uint8 (F, size, size, 3)), its scene drawn from ``seed``."""
    attrs = parse_caption(prompt)
    if attrs is None:
        raise ValueError(f"not a world caption: {prompt!r}")
    combo = (attrs["colour"], attrs["shape"], attrs["direction"], attrs["background"])
    scene = sample_scene(np.random.default_rng(seed), size, num_frames, combo=combo)
    return render(scene, size, num_frames)


def video_file(prompt: str, seed: int, key: str) -> str:
    """File name of a sample's saved frames, unique per prompt, seed and settings."""
    return hashlib.sha256(f"{key}\n{seed}\n{prompt}".encode()).hexdigest()[:20] + ".npy"


def _load_done(out_dir: Path, key: str) -> dict[tuple[str, int], tuple[SampleRecord, np.ndarray]]:
    done: dict[tuple[str, int], tuple[SampleRecord, np.ndarray]] = {}
    path = out_dir / SAMPLES_FILE
    if not path.is_file():
        return done
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if entry.get("settings_key") != key:
            continue
        record = SampleRecord(**entry["record"])
        video_path = out_dir / VIDEOS_DIR / video_file(record.prompt, record.seed, key)
        if video_path.is_file():
            done[(record.prompt, record.seed)] = (record, np.load(video_path))
    return done


def _clipsim(clip: ClipScorer, text_cache: dict[str, Any], video: np.ndarray, prompt: str) -> float:
    """CLIPSIM of one video, embedding each prompt once."""
    if prompt not in text_cache:
        text_cache[prompt] = clip.text_embeddings([prompt])
    return float((clip.image_embeddings(video) @ text_cache[prompt].T).mean())


def _set_metrics(
    videos: list[np.ndarray],
    samples: list[SampleRecord],
    resolved: dict[str, Any],
    clip: ClipScorer | None,
    fvd_net: FeatureNet | None,
    is_net: FeatureNet | None,
) -> dict[str, dict[str, Any]]:
    metrics: dict[str, dict[str, Any]] = {}
    if clip is None:
        metrics["clipsim"] = {"status": NO_LOCAL_MODEL}
    else:
        values = [s.clipsim for s in samples if s.clipsim is not None]
        metrics["clipsim"] = {"value": float(np.mean(values)), "videos": len(values), "model": "local CLIP"}
    if is_net is None:
        metrics["is"] = {"status": NO_LOCAL_MODEL}
    else:
        mean, std = inception_score(np.stack(videos), is_net)
        metrics["is"] = {"value": mean, "std": std, "videos": len(videos), "model": is_net.name}
    world = [(v, s) for v, s in zip(videos, samples, strict=True) if s.group != "other"]
    if fvd_net is None:
        metrics["fvd"] = {"status": NO_LOCAL_MODEL}
    elif resolved["height"] != resolved["width"]:
        metrics["fvd"] = {"status": "not available (world reference clips are square)"}
    elif len(world) < 2:
        metrics["fvd"] = {"status": "not available (needs at least 2 world-caption videos as reference)"}
    else:
        real = np.stack(
            [
                ground_truth_clip(s.prompt, s.seed, resolved["height"], resolved["num_frames"])
                for _, s in world
            ]
        )
        value = fvd(real, np.stack([v for v, _ in world]), fvd_net)
        metrics["fvd"] = {
            "value": value,
            "videos": len(world),
            "reference": "rendered ground-truth world clips of the same captions",
            "model": fvd_net.name,
        }
    return metrics


def evaluate(
    pipe: VideoGenPipeline,
    prompts: Sequence[str],
    seeds: Sequence[int],
    settings: GenerationSettings | None = None,
    variant: Variant | None = None,
    clip: ClipScorer | None = None,
    fvd_net: FeatureNet | None = None,
    is_net: FeatureNet | None = None,
    out_dir: Path | None = None,
    resume: bool = False,
    model_name: str = "",
    on_sample: Callable[[SampleRecord, int, int], None] | None = None,
) -> EvalResult:
    """Generate ``prompts`` x ``seeds`` and score every video (see the module docstring).

    Args:
        out_dir: where ``samples.jsonl`` and ``videos/`` go (nothing is written when None).
        resume: reuse samples of an earlier run in ``out_dir`` with identical settings.
        model_name: recorded in the settings (and so in the resume key).
        on_sample: ``on_sample(record, done, total)`` after each sample, for progress.
    """
    if not prompts:
        raise ValueError("no prompts to evaluate")
    if not seeds:
        raise ValueError("no seeds to evaluate")
    settings = settings or GenerationSettings()
    variant = variant or Variant()
    resolved = settings.resolve(pipe)
    run_settings = {
        "model": model_name,
        **resolved,
        "upsample_mode": variant.upsample_mode,
        "decoder": variant.decoder,
    }
    key = settings_key(run_settings)
    done = _load_done(out_dir, key) if (out_dir is not None and resume) else {}
    if out_dir is not None:
        (out_dir / VIDEOS_DIR).mkdir(parents=True, exist_ok=True)
        if not resume:
            (out_dir / SAMPLES_FILE).write_text("")
    text_cache: dict[str, Any] = {}
    samples: list[SampleRecord] = []
    videos: list[np.ndarray] = []
    total = len(prompts) * len(seeds)
    started = time.perf_counter()
    for prompt in prompts:
        for seed in seeds:
            index = len(samples)
            if (prompt, seed) in done:
                record, video = done[(prompt, seed)]
                record.index = index
                if clip is not None and record.clipsim is None:  # a CLIP given only on resume
                    record.clipsim = _clipsim(clip, text_cache, video, prompt)
            else:
                t0 = time.perf_counter()
                latents = generate_latents(pipe, prompt, seed, resolved)
                video = render_variant(pipe, latents, resolved, variant)[0]  # (F, H, W, 3)
                seconds = time.perf_counter() - t0
                group = prompt_group(prompt)
                record = SampleRecord(
                    index=index,
                    prompt=prompt,
                    seed=seed,
                    group=group,
                    warping_error=warping_error(video) if len(video) > 1 else 0.0,
                    frame_difference=mean_frame_difference(video) if len(video) > 1 else 0.0,
                    seconds=seconds,
                    world=score_world_video(video, prompt).to_dict() if group != "other" else None,
                )
                if clip is not None:
                    record.clipsim = _clipsim(clip, text_cache, video, prompt)
                if out_dir is not None:
                    np.save(out_dir / VIDEOS_DIR / video_file(prompt, seed, key), video)
                    with (out_dir / SAMPLES_FILE).open("a") as f:
                        f.write(json.dumps({"settings_key": key, "record": record.to_dict()}) + "\n")
            samples.append(record)
            videos.append(video)
            if on_sample is not None:
                on_sample(record, len(samples), total)
    set_metrics = _set_metrics(videos, samples, resolved, clip, fvd_net, is_net)
    return EvalResult(
        settings={**run_settings, "seeds": list(seeds), "prompts": len(prompts)},
        samples=samples,
        set_metrics=set_metrics,
        seconds=time.perf_counter() - started,
        videos=videos,
    )
