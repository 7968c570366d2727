"""The paper's ablations, measured on the synthetic world.

- ``variant_ablation``: from the same denoised latents of each prompt and seed, flow vs plain-blend temporal
  upsampling and the video decoder vs the per-frame image decoder: world correctness and temporal consistency.
- ``interpolation_ablation``: ground-truth world clips are encoded with the model's VAE, frames are dropped, the
  flow upsampler and plain blending put them back, the video decoder decodes, and PSNR against the true frames
  says which interpolates better. Encoding and decoding every frame (nothing dropped) with either decoder is the
  ceiling, and measures the decoders against ground truth.
- ``reference_ablation``: the same evaluation of a model with the reference image and one trained without it under
  the same budget; pending until such a model exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
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
from models.eval.report import summarize, summarize_samples
from models.eval.temporal import mean_frame_difference, psnr, warping_error
from models.eval.world_metrics import score_world_video
from models.pipeline_videogen import VideoGenPipeline
from models.world import render, sample_scene

logger = logging.getLogger(__name__)

ABLATION_VARIANTS = (Variant("flow", "video"), Variant("blend", "video"), Variant("flow", "image"))
PENDING_REFERENCE = "pending: no model trained without the reference image under the same budget"


def variant_ablation(
    pipe: VideoGenPipeline,
    prompts: Sequence[str],
    seeds: Sequence[int],
    settings: GenerationSettings | None = None,
    variants: Sequence[Variant] = ABLATION_VARIANTS,
    on_sample: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score every variant on the same latents of each (prompt, seed).

    Returns ``{"settings": ..., "variants": {variant name: {group: summary}}}`` with the group summaries of
    ``report.summarize_samples`` (held_out, seen, world, all).
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
                records[variant.name].append(
                    SampleRecord(
                        index=done,
                        prompt=prompt,
                        seed=seed,
                        group=group,
                        warping_error=warping_error(video),
                        frame_difference=mean_frame_difference(video),
                        seconds=0.0,
                        world=score_world_video(video, prompt).to_dict() if group != "other" else None,
                    )
                )
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
    return {"settings": {**resolved, "seeds": list(seeds), "prompts": len(prompts)}, "variants": summaries}


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

    def add(name: str, video: np.ndarray, truth: np.ndarray) -> None:
        row = rows.setdefault(
            name, {"psnr_dropped": [], "psnr_all": [], "warping_error": [], "frame_difference": []}
        )
        row["psnr_dropped"].append(psnr(video[dropped], truth[dropped]))
        row["psnr_all"].append(psnr(video, truth))
        row["warping_error"].append(warping_error(video))
        row["frame_difference"].append(mean_frame_difference(video))

    for i in range(clips):
        truth = render(sample_scene(rng, size, num_frames, held_out=None), size, num_frames)
        latents = encode_video(pipe, truth)
        kept = latents[:, :, ::step]
        for mode in ("flow", "blend"):
            video = decode(pipe, upsample_latents(pipe, kept, times, mode), "video")[0]
            add(f"{mode} upsampling", video, truth)
        add("no frames dropped, video decoder", decode(pipe, latents, "video")[0], truth)
        add("no frames dropped, image decoder", decode(pipe, latents, "image")[0], truth)
        add("ground truth", truth, truth)
        if on_clip is not None:
            on_clip(i + 1, clips)
    summary = {name: {k: float(np.mean(v)) for k, v in row.items()} for name, row in rows.items()}
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


def variant_markdown(result: dict[str, Any]) -> str:
    """Table: per variant, colour+shape+direction accuracy (held-out, seen) and temporal scores."""
    lines = [
        "| variant | held-out c+s+d | seen c+s+d | direction (all world) | warping error | frame difference |",
        "|---|---|---|---|---|---|",
    ]
    for name, groups in result["variants"].items():
        everything = groups["all"]
        lines.append(
            f"| {name} | {_acc(groups.get('held_out'))} | {_acc(groups.get('seen'))} | "
            f"{_acc(groups.get('world'), 'direction')} | {_fmt(everything['warping_error'])} | "
            f"{_fmt(everything['frame_difference'])} |"
        )
    return "\n".join(lines) + "\n"


def interpolation_markdown(result: dict[str, Any]) -> str:
    """Table: PSNR on dropped and all frames, warping error and frame difference per reconstruction."""
    lines = [
        "| reconstruction | PSNR dropped frames (dB) | PSNR all frames (dB) | warping error | frame difference |",
        "|---|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        dropped = "-" if name.startswith("no frames") or name == "ground truth" else _fmt(row["psnr_dropped"])
        all_frames = "-" if name == "ground truth" else _fmt(row["psnr_all"])
        lines.append(
            f"| {name} | {dropped} | {all_frames} | {_fmt(row['warping_error'])} | {_fmt(row['frame_difference'])} |"
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
