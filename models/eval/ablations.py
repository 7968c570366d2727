"""The paper's ablations, measured on the synthetic world.

- ``variant_ablation``: from the same denoised latents of each prompt and seed, flow vs plain-blend temporal
  upsampling and the video decoder vs the per-frame image decoder: world correctness, temporal consistency
  (warping error, background flicker) and per-frame quality (``shape_quality``), with a ground-truth row: the
  same captions rendered by the world.
- ``interpolation_ablation``: ground-truth world clips are encoded with the model's VAE, frames are dropped, the
  flow upsampler and plain blending put them back, the video decoder decodes, and PSNR against the true frames
  says which interpolates better. Encoding and decoding every frame (nothing dropped) with either decoder is the
  ceiling, and measures the decoders against ground truth.
- ``reference_ablation``: the same evaluation of a model with the reference image and one trained without it under
  the same budget; pending until such a model exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.eval.evaluation import SampleRecord, evaluate, prompt_group
from models.eval.generation import (
    GenerationSettings,
    Variant,
    decode,
    generate_latents,
    render_variant,
    upsample_latents,
)
from models.eval.report import SHAPE_MEASURES, mean_present, summarize, summarize_samples
from models.eval.shape_quality import background_flicker, shape_quality
from models.eval.temporal import mean_frame_difference, psnr, warping_error
from models.eval.world_metrics import score_world_video
from models.pipeline_videogen import VideoGenPipeline
from models.video_decoder import VideoDecoder
from models.world import parse_caption, render, sample_scene

logger = logging.getLogger(__name__)

ABLATION_VARIANTS = (
    Variant("flow", "video"),
    Variant("blend", "video"),
    Variant("flow", "image"),
    Variant("flow", "spatial"),
)
INTERPOLATION_MEASURES = (
    "psnr_dropped",
    "psnr_all",
    "warping_error",
    "frame_difference",
    "background_flicker",
    *SHAPE_MEASURES,
)
GROUND_TRUTH = "ground truth (world render)"  # the variant ablation's calibration row
PENDING_REFERENCE = "pending: no model trained without the reference image under the same budget"


def variant_ablation(
    pipe: VideoGenPipeline,
    prompts: Sequence[str],
    seeds: Sequence[int],
    settings: GenerationSettings | None = None,
    variants: Sequence[Variant] = ABLATION_VARIANTS,
    on_sample: Callable[[int, int], None] | None = None,
    decoders: Mapping[str, VideoDecoder] | None = None,
) -> dict[str, Any]:
    """Score every variant on the same latents of each (prompt, seed).

    ``decoders``: other video decoders (name -> decoder, e.g. trial runs) scored as flow upsampling with that
    decoder in place of the pipeline's, on the same latents.

    Returns ``{"settings": ..., "variants": {variant name: {group: summary, "per_seed": {seed: summary}}}}`` with
    the summaries of ``report.summarize_samples`` (held_out, seen, world, all).
    """
    resolved = (settings or GenerationSettings()).resolve(pipe)
    records: dict[str, list[SampleRecord]] = {v.name: [] for v in variants}
    total, done = len(prompts) * len(seeds), 0
    for prompt in prompts:
        group = prompt_group(prompt)
        for seed in seeds:
            latents = generate_latents(pipe, prompt, seed, resolved)
            for variant in variants:
                video = render_variant(pipe, latents, resolved, variant)[0]
                records[variant.name].append(_score(video, prompt, seed, group, done))
            if decoders:
                upsampled = upsample_latents(pipe, latents, resolved["temporal_upsampling"], "flow")
                upsampled = upsampled[:, :, : resolved["num_frames"]]
            for name, decoder in (decoders or {}).items():
                shipped = pipe.video_decoder
                pipe.video_decoder = decoder
                try:
                    video = decode(pipe, upsampled, "video")[0]
                finally:
                    pipe.video_decoder = shipped
                records.setdefault(f"flow upsampling, {name}", []).append(
                    _score(video, prompt, seed, group, done)
                )
            if group != "other":
                # The same caption drawn by the world itself: the measures' values for a perfect video.
                attrs = parse_caption(prompt)
                combo = (attrs["colour"], attrs["shape"], attrs["direction"], attrs["background"])
                rng = np.random.default_rng(seed)
                truth = render(
                    sample_scene(rng, resolved["height"], resolved["num_frames"], combo),
                    resolved["height"],
                    resolved["num_frames"],
                )
                records.setdefault(GROUND_TRUTH, []).append(_score(truth, prompt, seed, group, done))
            done += 1
            if on_sample is not None:
                on_sample(done, total)
    summaries = {}
    for name, items in records.items():
        groups = {
            "held_out": [r for r in items if r.group == "held_out"],
            "seen": [r for r in items if r.group == "seen"],
            "world": [r for r in items if r.group != "other"],
            "all": items,
        }
        summaries[name] = {g: summarize_samples(rs) for g, rs in groups.items() if rs}
        summaries[name]["per_seed"] = {
            str(seed): summarize_samples([r for r in items if r.seed == seed]) for seed in seeds
        }
    return {"settings": {**resolved, "seeds": list(seeds), "prompts": len(prompts)}, "variants": summaries}


def _score(video: np.ndarray, prompt: str, seed: int, group: str, index: int) -> SampleRecord:
    """Every measure of the variant ablation on one uint8 video (F, H, W, 3)."""
    world = group != "other"
    return SampleRecord(
        index=index,
        prompt=prompt,
        seed=seed,
        group=group,
        warping_error=warping_error(video),
        frame_difference=mean_frame_difference(video),
        seconds=0.0,
        world=score_world_video(video, prompt).to_dict() if world else None,
        background_flicker=background_flicker(video) if world else None,
        shape=shape_quality(video, prompt).to_dict() if world else None,
    )


@torch.no_grad()
def encode_video(pipe: VideoGenPipeline, frames: np.ndarray) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> scaled VAE latents (1, C, F, h, w), each frame encoded alone (posterior mode)."""
    pixels = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    latents = pipe.vae.encode(pixels.to(pipe.vae.dtype)).latent_dist.mode() * pipe.vae.config.scaling_factor
    return latents.transpose(0, 1)[None]  # (1, C, F, h, w)


def interpolation_ablation(
    pipe: VideoGenPipeline,
    clips: int = 24,
    seed: int = 0,
    settings: GenerationSettings | None = None,
    on_clip: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Drop frames of encoded ground-truth world clips and put them back with flow vs blend upsampling.

    Clips have the model's output size; ``temporal_upsampling`` doublings (at least 1) of the model's setting
    decide how many frames are dropped (every other one for 1 doubling, three of four for 2). PSNR (dB) is
    reported on the dropped frames and on all frames; warping error and frame difference (0-255) on all frames.
    """
    resolved = (settings or GenerationSettings()).resolve(pipe)
    if resolved["height"] != resolved["width"]:
        raise ValueError("the interpolation ablation renders square world clips: use height == width")
    size = resolved["height"]
    times = max(1, resolved["temporal_upsampling"])
    step = 2**times
    base = pipe.base_frames_for(resolved["num_frames"], times)
    num_frames = (base - 1) * step + 1
    dropped = [t for t in range(num_frames) if t % step]
    rng = np.random.default_rng(seed)
    rows: dict[str, dict[str, list[float]]] = {}

    def add(name: str, video: np.ndarray, truth: np.ndarray, caption: str) -> None:
        row = rows.setdefault(name, {key: [] for key in INTERPOLATION_MEASURES})
        row["psnr_dropped"].append(psnr(video[dropped], truth[dropped]))
        row["psnr_all"].append(psnr(video, truth))
        row["warping_error"].append(warping_error(video))
        row["frame_difference"].append(mean_frame_difference(video))
        row["background_flicker"].append(background_flicker(video))
        quality = shape_quality(video, caption)
        for key in SHAPE_MEASURES:
            row[key].append(getattr(quality, key))

    for i in range(clips):
        scene = sample_scene(rng, size, num_frames, held_out=None)
        truth = render(scene, size, num_frames)
        latents = encode_video(pipe, truth)
        kept = latents[:, :, ::step]
        for mode in ("flow", "blend"):
            video = decode(pipe, upsample_latents(pipe, kept, times, mode), "video")[0]
            add(f"{mode} upsampling", video, truth, scene.caption)
        add("no frames dropped, video decoder", decode(pipe, latents, "video")[0], truth, scene.caption)
        add("no frames dropped, image decoder", decode(pipe, latents, "image")[0], truth, scene.caption)
        add("ground truth", truth, truth, scene.caption)
        if on_clip is not None:
            on_clip(i + 1, clips)
    summary = {name: {k: mean_present(v) for k, v in row.items()} for name, row in rows.items()}
    return {
        "settings": {
            "clips": clips,
            "seed": seed,
            "size": size,
            "frames": num_frames,
            "doublings": times,
            "dropped_frames": len(dropped),
        },
        "rows": summary,
    }


def reference_ablation(
    with_reference: VideoGenPipeline,
    without_reference: VideoGenPipeline | None,
    prompts: Sequence[str],
    seeds: Sequence[int],
    settings: GenerationSettings | None = None,
) -> dict[str, Any]:
    """World evaluation of both models on the same prompts and seeds. Without the second model nothing runs and
    ``status`` says the comparison is pending."""
    if without_reference is None:
        return {"status": PENDING_REFERENCE}
    result: dict[str, Any] = {"with reference": summarize(evaluate(with_reference, prompts, seeds, settings))}
    result["without reference"] = summarize(evaluate(without_reference, prompts, seeds, settings))
    result["status"] = "measured"
    return result


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _acc(summary: dict[str, Any] | None, check: str = "attributes") -> str:
    if summary is None or "accuracy" not in summary:
        return "-"
    return f"{100 * summary['accuracy'][check]:.0f}% ({summary['correct'][check]}/{summary['videos']})"


def _spread(result: dict[str, Any], key: str, sub: str | None = None) -> str:
    """The mean of a measure over all samples, then its range over the per-seed means: ``0.25 (0.24-0.26)``."""

    def pick(summary: dict[str, Any]) -> float | None:
        value = summary.get(key)
        return value.get(sub) if isinstance(value, dict) and sub else value

    per_seed = [v for v in (pick(s) for s in result["per_seed"].values()) if v is not None]
    mean = pick(result["all"])
    if mean is None:
        return "-"
    if len(per_seed) < 2:
        return _fmt(mean)
    return f"{_fmt(mean)} ({_fmt(min(per_seed))}-{_fmt(max(per_seed))})"


def variant_markdown(result: dict[str, Any]) -> str:
    """Table: per variant, colour+shape+direction accuracy (held-out, seen), temporal and per-frame measures.

    Temporal and per-frame columns give the mean over every video, then the range of the per-seed means.
    """
    lines = [
        "| variant | held-out c+s+d | seen c+s+d | direction (all world) | warping error | background flicker "
        "| edge width (px) | interior error | square fill | frame difference |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, groups in result["variants"].items():
        lines.append(
            f"| {name} | {_acc(groups.get('held_out'))} | {_acc(groups.get('seen'))} | "
            f"{_acc(groups.get('world'), 'direction')} | {_spread(groups, 'warping_error')} | "
            f"{_spread(groups, 'background_flicker')} | {_spread(groups, 'shape', 'edge_width')} | "
            f"{_spread(groups, 'shape', 'interior_error')} | {_spread(groups, 'shape', 'square_fill')} | "
            f"{_spread(groups, 'frame_difference')} |"
        )
    return "\n".join(lines) + "\n"


def interpolation_markdown(result: dict[str, Any]) -> str:
    """Table: PSNR on dropped and all frames, warping error and frame difference per reconstruction."""
    lines = [
        "| reconstruction | PSNR dropped frames (dB) | PSNR all frames (dB) | warping error | background flicker "
        "| edge width (px) | interior error | square fill | frame difference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        dropped = "-" if name.startswith("no frames") or name == "ground truth" else _fmt(row["psnr_dropped"])
        all_frames = "-" if name == "ground truth" else _fmt(row["psnr_all"])
        lines.append(
            f"| {name} | {dropped} | {all_frames} | {_fmt(row['warping_error'])} | "
            f"{_fmt(row['background_flicker'])} | {_fmt(row['edge_width'])} | {_fmt(row['interior_error'])} | "
            f"{_fmt(row['square_fill'])} | {_fmt(row['frame_difference'])} |"
        )
    return "\n".join(lines) + "\n"


def reference_markdown(result: dict[str, Any]) -> str:
    """Table: world accuracy and temporal scores with and without the reference image (or the pending note)."""
    lines = [
        "| model | held-out c+s+d | seen c+s+d | warping error |",
        "|---|---|---|---|",
    ]
    for name in ("with reference", "without reference"):
        report = result.get(name)
        if report is None:
            lines.append(f"| {name} | {result['status']} | | |")
            continue
        groups = report["groups"]
        lines.append(
            f"| {name} | {_acc(groups.get('held_out'))} | {_acc(groups.get('seen'))} | "
            f"{_fmt(groups['all']['warping_error'])} |"
        )
    return "\n".join(lines) + "\n"


def model_exists(path: str | Path | None) -> bool:
    """Whether a no-reference model folder is there to compare (``model_index.json`` present)."""
    return path is not None and (Path(path) / "model_index.json").is_file()
