"""Time each heavy module and a whole video per backend, side by side, with the ratio to torch eager.

    .venv/bin/python bench/backends.py                                  # bench-mid preset on CPU
    .venv/bin/python bench/backends.py --preset tiny --repeats 5
    .venv/bin/python bench/backends.py --device cuda --backends torch,torch-fp16,onnxruntime,tensorrt-fp16
    .venv/bin/python bench/backends.py --preset demo --backends torch,torch+compile,onnxruntime

Backends: ``torch`` (eager fp32), ``torch-fp16`` / ``torch-bf16`` (eager, CUDA), ``onnxruntime`` (CUDA provider on a
CUDA device where installed, else CPU) and ``tensorrt`` / ``tensorrt-fp16`` / ``tensorrt-bf16`` (engines built here
on first use). ``+compile`` after a torch backend (``torch+compile``, ``torch-fp16+compile``) compiles the modules
``export.torch_compile`` picks with inductor; the warm-up call pays the compilation. Every module is timed at the
sizes one default generation feeds it (batch doubled by classifier-free guidance where it applies), median of
``--repeats`` after one warm-up call. The whole video is the model's default generation with ``--steps`` steps.
Timings drift ~30% between runs on a shared machine: compare only columns of one run.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from export.backends import apply_backends
from export.onnx_export import export_pipeline
from export.specs import SPECS, Geometry, ModuleSpec
from export.tensorrt_build import Precision, build_engines
from models.loading import build_pipeline
from models.pipeline_videogen import VideoGenPipeline
from models.presets import PRESETS, Preset

# A mid-size model: the paper's structure at 128x128 with ~1/5 of SD-1.5's widths, so each forward does enough
# work on a CPU for per-op overhead not to decide the comparison.
BENCH_MID = Preset(
    text_encoder={
        "hidden_size": 256,
        "intermediate_size": 1024,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "projection_dim": 256,
    },
    vae={
        "block_out_channels": (64, 128, 256),
        "down_block_types": ("DownEncoderBlock2D",) * 3,
        "up_block_types": ("UpDecoderBlock2D",) * 3,
        "latent_channels": 4,
        "layers_per_block": 1,
        "norm_num_groups": 32,
        "sample_size": 128,
    },
    reference_unet={
        "block_out_channels": (64, 128, 256),
        "layers_per_block": 1,
        "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        "cross_attention_dim": 256,
        "attention_head_dim": 8,
        "norm_num_groups": 32,
        "sample_size": 32,
    },
    video_unet={
        "block_out_channels": (64, 128, 256),
        "layers_per_block": 1,
        "down_block_types": ("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
        "up_block_types": ("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
        "cross_attention_dim": 256,
        "attention_head_dim": 32,
        "norm_num_groups": 32,
    },
    temporal_upsampler={"hidden_channels": 64},
    temporal_attention_head_dim=32,
    pipeline={
        "default_height": 128,
        "default_width": 128,
        "default_num_frames": 16,
        "max_base_frames": 16,
        "default_num_inference_steps": 4,
        "default_guidance_scale": 4.0,
        "default_temporal_upsampling": 1,
    },
)
PRESETS.setdefault("bench-mid", BENCH_MID)  # bench-only; not a shipped model
PROMPT = "a red ball rolls to the right"
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def generation_sizes(pipe: VideoGenPipeline, spec: ModuleSpec) -> dict[str, int]:
    """The dynamic sizes a default generation (one prompt, guidance on) feeds ``spec``'s module."""
    c = pipe.config
    g = Geometry.of(pipe)
    base_frames = pipe.base_frames_for(c.default_num_frames, c.default_temporal_upsampling)
    factor = g.vae_scale_factor * (g.sr_scale_factor if spec.level == "base" else 1)
    sizes = {
        "batch": 2 if spec.cfg_batch and c.default_guidance_scale > 1 else 1,
        "height": c.default_height // factor,
        "width": c.default_width // factor,
    }
    if spec.frames == "chunk":
        sizes["frames"] = min(c.default_num_frames, c.decode_chunk_size)
    elif spec.frames is not None:
        sizes["frames"] = base_frames
    return sizes


def elapsed(fn: Callable[[], object], device: torch.device) -> float:
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


@dataclass
class Variant:
    """One backend's callables: each module at its generation sizes, and the whole video."""

    calls: dict[str, Callable[[], object]]
    ran: dict[str, str]


def make_variant(
    pipe: VideoGenPipeline, backend: str, engine_dir: Path, device: torch.device, steps: int, threads: int
) -> Variant:
    """A copy of ``pipe`` running ``backend``, its per-module callables and what each module really ran on."""
    backend, _, extra = backend.partition("+")  # "torch+compile", "torch-fp16+compile"
    kind, _, precision = backend.partition("-")
    dtype = DTYPES.get(precision, torch.float32) if kind == "torch" else torch.float32
    variant = copy.deepcopy(pipe).to(device, dtype)
    if kind == "tensorrt":
        build_engines(engine_dir, Precision(precision or "fp32"), device=str(device))
    chain = "torch" if kind == "torch" else kind
    choices = apply_backends(
        variant,
        chain,
        engine_dir,
        precision=Precision(precision) if precision else None,
        threads=threads,
        compile_backend="inductor" if extra == "compile" else None,
    )
    generator = torch.Generator().manual_seed(0)
    calls = {}
    for name, spec in SPECS.items():
        module = spec.export_module(getattr(variant, spec.component))
        feeds = spec.sample_inputs(generation_sizes(variant, spec), Geometry.of(variant), generator)
        inputs = [x.to(device, dtype) if x.is_floating_point() else x.to(device) for x in feeds.values()]
        calls[name] = lambda m=module, i=inputs: m(*i)
    if steps > 0:
        calls["whole video"] = lambda: variant(PROMPT, seed=0, num_inference_steps=steps, output_type="pt")
    return Variant(calls, {name: c.backend for name, c in choices.items()})


def measure(
    variants: dict[str, Variant], repeats: int, video_repeats: int, device: torch.device
) -> dict[str, dict[str, float]]:
    """Median seconds per backend and row. Backends alternate call by call, so load that comes and goes on a
    shared machine hits every column alike; the first round of each row is a discarded warm-up."""
    rows = list(next(iter(variants.values())).calls)
    times: dict[str, dict[str, list[float]]] = {b: {r: [] for r in rows} for b in variants}
    with torch.no_grad():
        for row in rows:
            for _ in range(1 + (video_repeats if row == "whole video" else repeats)):
                for backend, variant in variants.items():
                    times[backend][row].append(elapsed(variant.calls[row], device))
    return {b: {r: statistics.median(t[1:]) for r, t in rows_.items()} for b, rows_ in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="bench-mid", help=f"one of {sorted(PRESETS)}")
    p.add_argument("--backends", default="torch,onnxruntime", help="comma-separated, first is the baseline")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per module")
    p.add_argument("--video-repeats", type=int, default=1, help="timed whole videos per backend")
    p.add_argument("--steps", type=int, default=4, help="steps per stage in the whole video (0: no video)")
    p.add_argument("--engine-dir", type=Path, default=None, help="reuse an export (default: a fresh one)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads, every backend")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    pipe = build_pipeline(args.preset)
    pipe.set_progress_bar_config(disable=True)
    with tempfile.TemporaryDirectory() as scratch:
        engine_dir = args.engine_dir or Path(scratch)
        if any(not b.startswith("torch") for b in backends):
            start = time.perf_counter()
            export_pipeline(pipe, engine_dir, verify=False)
            print(f"exported {args.preset} to ONNX in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        variants = {b: make_variant(pipe, b, engine_dir, device, args.steps, args.threads) for b in backends}
        seconds = measure(variants, args.repeats, args.video_repeats, device)
    results = {b: (seconds[b], variants[b].ran) for b in backends}

    base = backends[0]
    print(
        f"# {args.preset} on {args.device} ({os.cpu_count()} CPUs, torch {torch.__version__},"
        f" {torch.get_num_threads()} threads); ms, and speed-up over {base}"
    )
    header = f"{'module':<20}" + "".join(f"{b:>24}" for b in backends)
    print(header)
    for row in results[base][0]:
        cells = []
        for b in backends:
            t = results[b][0][row]
            ran = results[b][1].get(row, b)
            mark = "" if row == "whole video" or ran == b.split("-")[0] else f" [{ran}]"
            cells.append(f"{t * 1e3:>10.1f} ({results[base][0][row] / t:4.2f}x){mark}")
        print(f"{row:<20}" + "".join(f"{c:>24}" for c in cells))
    if args.json:
        payload = {b: {"seconds": t, "ran": r} for b, (t, r) in results.items()}
        args.json.write_text(json.dumps({"preset": args.preset, "device": args.device, **payload}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
