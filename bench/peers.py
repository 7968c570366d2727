"""VideoGen's cascade against one-stage peers of the same size: seconds per video, peak memory, the ratio.

    .venv/bin/python bench/peers.py                                   # demo and mid scales, CPU, fp32
    .venv/bin/python bench/peers.py --scales demo --repeats 5 --stages
    .venv/bin/python bench/peers.py --scales base --device cuda --precisions fp32,fp16,fp16+compile

The peers are diffusers' ``TextToVideoSDPipeline`` (a ``UNet3DConditionModel``) and ``AnimateDiffPipeline`` (a
``UNetMotionModel``: an SD ``UNet2DConditionModel`` plus a ``MotionAdapter``), built on the *same* VAE, text
encoder and tokenizer objects as the videogen pipeline, their UNets with videogen's video-UNet widths (blocks,
channels, layers, heads, cross-attention width), random weights, the same scheduler (DPM-Solver++ from videogen's
config). Every pipeline makes the same video: frames, size, steps, guidance scale, one prompt, ``output_type="np"``.
Calls alternate pipeline by pipeline for ``--repeats`` rounds after one warm-up round, so load from other work on a
shared machine hits every column alike; the table gives the median.

Scales: ``tiny`` (the test preset, 32x32, for dry runs), ``demo`` (the shipped model's architecture, 64x64),
``mid`` (``bench/pipeline.py``'s mid preset, 128x128), ``base`` (the paper's: SD-1.5 widths, 256x256; a GPU's).
Memory, read in the first round: on CUDA the most torch allocated during the call above what was allocated before
it (weights of every pipeline stay resident: the weights column); on a CPU the process's peak resident set during
the call above the resident set before it (``worker.memory``; see ``measure``). ``--stages`` adds videogen's
seconds and peak memory per stage. ``--sr-steps-ratios 1,0.5`` times videogen at each super-resolution steps ratio
in the same rounds; ``--sr-guidances none,1`` likewise at each cap on the super-resolution stage's guidance
(``none``: the model's own; 1: no classifier-free guidance there), crossed with the ratios. The decoder's deepest
``--trained-mixers`` temporal stages run (2, as in ``weights/demo``; random weights would leave every stage the
identity, which the decoder skips).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AnimateDiffPipeline,
    DiffusionPipeline,
    DPMSolverMultistepScheduler,
    MotionAdapter,
    TextToVideoSDPipeline,
    UNet2DConditionModel,
    UNet3DConditionModel,
    UNetMotionModel,
)

from core.stages import PIPELINE_STAGES, Stage
from models.loading import build_pipeline
from models.pipeline_videogen import VideoGenPipeline
from models.presets import PRESETS
from models.video_decoder import VideoDecoder
from worker.memory import MemoryProbe, probe_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import MID  # (bench/pipeline.py's mid preset: the "mid" scale)

PRESETS.setdefault("mid", MID)  # bench-only; not a shipped model
PROMPT = "a red circle moving left on a black background"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# scale -> (preset, height, width); 16 frames everywhere (the comparison)
SCALES: dict[str, tuple[str, int, int]] = {
    "tiny": ("tiny", 32, 32),
    "demo": ("demo", 64, 64),
    "mid": ("mid", 128, 128),
    "base": ("base", 256, 256),
}
PEERS = ("text-to-video-sd", "animatediff")
MiB = 1024 * 1024


def to_2d(block_types: tuple[str, ...]) -> tuple[str, ...]:
    """``CrossAttnDownBlock3D`` -> ``CrossAttnDownBlock2D``: the image UNet a motion adapter inflates."""
    return tuple(b.replace("3D", "2D") for b in block_types)


def unet_widths(pipe: VideoGenPipeline) -> dict[str, Any]:
    """The arguments of videogen's video UNets that fix their size (both stages share them)."""
    c = pipe.base_unet.config
    return {
        "block_out_channels": tuple(c.block_out_channels),
        "layers_per_block": c.layers_per_block,
        "norm_num_groups": c.norm_num_groups,
        "cross_attention_dim": c.cross_attention_dim,
        "attention_head_dim": c.attention_head_dim,
    }


def build_peer(name: str, pipe: VideoGenPipeline, seed: int = 0) -> DiffusionPipeline:
    """A one-stage peer on ``pipe``'s own VAE, text encoder and tokenizer objects, its UNet of equal widths."""
    torch.manual_seed(seed)
    c = pipe.base_unet.config
    latent = pipe.vae.config.latent_channels
    widths = unet_widths(pipe)
    device, dtype = pipe.base_unet.device, pipe.base_unet.dtype
    scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    shared = {"vae": pipe.vae, "text_encoder": pipe.text_encoder, "tokenizer": pipe.tokenizer}
    if name == "text-to-video-sd":
        unet = UNet3DConditionModel(
            in_channels=latent,
            out_channels=latent,
            down_block_types=tuple(c.down_block_types),
            up_block_types=tuple(c.up_block_types),
            **widths,
        )
        peer: DiffusionPipeline = TextToVideoSDPipeline(
            unet=unet.to(device, dtype).eval(), scheduler=scheduler, **shared
        )
    elif name == "animatediff":
        image_unet = UNet2DConditionModel(
            in_channels=latent,
            out_channels=latent,
            down_block_types=to_2d(tuple(c.down_block_types)),
            up_block_types=to_2d(tuple(c.up_block_types)),
            **widths,
        )
        adapter = MotionAdapter(
            block_out_channels=widths["block_out_channels"],
            motion_layers_per_block=widths["layers_per_block"],
            motion_norm_num_groups=widths["norm_num_groups"],
        )
        unet = UNetMotionModel.from_unet2d(image_unet, adapter).to(device, dtype).eval()
        peer = AnimateDiffPipeline(unet=unet, motion_adapter=adapter, scheduler=scheduler, **shared)
    else:
        raise ValueError(f"unknown peer {name!r}; choose from {PEERS}")
    peer.set_progress_bar_config(disable=True)
    return peer


def weight_bytes(modules: list[torch.nn.Module]) -> int:
    """Bytes of the distinct parameters and buffers of ``modules``."""
    seen: dict[int, int] = {}
    for module in modules:
        for t in [*module.parameters(), *module.buffers()]:
            seen[t.data_ptr()] = t.numel() * t.element_size()
    return sum(seen.values())


@dataclass
class StageMeter:
    """Seconds and peak bytes (above the call's start) per stage, driven by videogen's progress callback. Work
    after a stage's last step (e.g. encoding the reference) counts toward the next stage, as in bench/pipeline.py."""

    probe: MemoryProbe
    device: torch.device
    base: int = 0
    stage: str = Stage.REFERENCE
    t: float = 0.0
    timing: bool = True
    memory: bool = True
    call_peak: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    peak: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def start(self, base: int, timing: bool, memory: bool) -> None:
        self.base, self.timing, self.memory, self.call_peak = base, timing, memory, 0
        self.stage, self.t = Stage.REFERENCE, time.perf_counter()
        self.probe.reset()

    def close(self, stage: str) -> None:
        sync(self.device)
        now = time.perf_counter()
        peak = (self.probe.peak() or 0) - self.base
        self.call_peak = max(self.call_peak, peak)
        if self.timing:
            self.seconds[stage] += now - self.t
        if self.memory:
            self.peak[stage] = max(self.peak[stage], peak)
        self.t = now
        self.probe.reset()

    def __call__(self, stage: str, step: int, total: int) -> None:
        self.stage = stage
        if step == total:
            self.close(stage)
            order = [*PIPELINE_STAGES, "done"]
            self.stage = order[order.index(stage) + 1] if stage in order else stage


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Contender:
    """One pipeline's call at the benchmark's settings, timed and its peak memory read per call."""

    name: str
    pipeline: DiffusionPipeline
    call: Callable[[Any], object]  # takes the videogen callback (ignored by peers)
    weights: int
    seconds: list[float] = field(default_factory=list)
    peak: int = 0


def run_trained_mixers(decoder: VideoDecoder, count: int) -> None:
    """Give the first ``count`` temporal stages of a randomly initialised decoder small non-zero output layers, so
    that they run as the trained stages of the shipped demo's decoder do (the rest stay identity, skipped)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for mixer in decoder.temporal_mixers[:count]:
            for t in mixer.last_layers():
                t.copy_(1e-3 * torch.randn(t.shape, generator=generator).to(t.device, t.dtype))


def variant_label(sr_steps_ratio: float | None, sr_guidance: float | None) -> str:
    """``videogen``, or what it changes: ``videogen sr=0.5 srg=1``."""
    parts = ["videogen"]
    if sr_steps_ratio is not None:
        parts.append(f"sr={sr_steps_ratio:g}")
    if sr_guidance is not None:
        parts.append(f"srg={sr_guidance:g}")
    return " ".join(parts)


def contenders(
    pipe: VideoGenPipeline,
    peers: list[str],
    frames: int,
    height: int,
    width: int,
    steps: int,
    guidance: float,
    sr_steps_ratios: list[float] | None = None,
    before: bool = False,
    sr_guidances: list[float | None] | None = None,
) -> list[Contender]:
    """videogen (its own config, or once per super-resolution steps ratio and guidance cap, ``None`` meaning the
    model's own; with ``before``, also as it ran before the speed-ups: full super-resolution steps and guidance,
    every decoder stage), then each peer, all making the same video from the same prompt."""
    videogen_modules = [
        getattr(pipe, n) for n in pipe.components if isinstance(getattr(pipe, n), torch.nn.Module)
    ]
    weights = weight_bytes(videogen_modules)
    out = []
    variants: list[tuple[str, float | None, float | None, bool]] = [
        (variant_label(r, g), r, g, False) for r in sr_steps_ratios or [None] for g in sr_guidances or [None]
    ]
    if before:
        variants.append(("videogen before", 1.0, math.inf, True))
    for label, ratio, sr_guidance, full_decoder in variants:

        def generate(
            cb: Any,
            ratio: float | None = ratio,
            sr_guidance: float | None = sr_guidance,
            full: bool = full_decoder,
            own: tuple[float, float | None] = (
                pipe.config.sr_steps_ratio,
                pipe.config.get("sr_guidance_scale"),
            ),
        ) -> object:
            pipe.register_to_config(
                sr_steps_ratio=own[0] if ratio is None else ratio,
                sr_guidance_scale=own[1] if sr_guidance is None else sr_guidance,
            )
            decoder = pipe.video_decoder
            if full:  # every temporal stage of the decoder runs, identity or not
                decoder.identity_mixers = lambda: [False] * len(decoder.temporal_mixers)
            try:
                return pipe(
                    PROMPT,
                    num_frames=frames,
                    height=height,
                    width=width,
                    num_inference_steps=steps,
                    guidance_scale=guidance,
                    seed=0,
                    callback=cb,
                )
            finally:
                decoder.__dict__.pop("identity_mixers", None)

        out.append(Contender(label, pipe, generate, weights))
    for name in peers:
        peer = build_peer(name, pipe)
        generator = torch.Generator("cpu")

        def run(_cb: Any, peer: DiffusionPipeline = peer, generator: torch.Generator = generator) -> object:
            return peer(
                PROMPT,
                num_frames=frames,
                height=height,
                width=width,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=generator.manual_seed(0),
                output_type="np",
            )

        out.append(Contender(name, peer, run, weight_bytes([peer.unet, peer.vae, peer.text_encoder])))
    return out


def compile_all(pipe: VideoGenPipeline, peers: list[Contender], backend: str = "inductor") -> None:
    """Inductor on every denoiser and decoder, videogen's and the peers' alike (the shared VAE's decoder once)."""
    from export.torch_compile import compile_in_place

    for name in ("reference_unet", "base_unet", "sr_unet", "temporal_upsampler", "video_decoder"):
        compile_in_place(getattr(pipe, name), backend)
    compile_in_place(pipe.vae.decoder, backend)
    for c in peers:
        compile_in_place(c.pipeline.unet, backend)


def measure(
    cands: list[Contender], repeats: int, device: torch.device, stages: StageMeter | None, warmup: int = 1
) -> None:
    """``warmup`` untimed rounds, then ``repeats`` timed rounds calling each contender in turn (the order rotates
    every round). Peak memory is read in the first round. On a CPU, warm-up rounds run with glibc's mmap threshold
    fixed at 128 KiB, so the resident set follows live tensors (at the price of page faults), and timed rounds with
    it fixed at 32 MiB (glibc's own ceiling); without a warm-up round the CPU peak is how far the resident set grew
    during the call, a lower bound."""
    probe = stages.probe if stages is not None else probe_for(str(device))
    libc = glibc(128 * 1024) if device.type == "cpu" and warmup else None
    for round_ in range(warmup + repeats):
        timed = round_ >= warmup
        if libc is not None and round_ == warmup:
            libc.mallopt(M_MMAP_THRESHOLD, 32 * MiB)
        order = cands[round_ % len(cands) :] + cands[: round_ % len(cands)]
        for c in order:
            sync(device)
            if libc is not None and not timed:
                libc.malloc_trim(0)  # hand freed heap back, so the call's peak is its own working memory
            base = current_bytes(device, probe)
            meter = stages if c is cands[0] and (timed or round_ == 0) else None
            if meter is not None:
                meter.start(base, timing=timed, memory=round_ == 0)
            start = time.perf_counter()
            with torch.no_grad():
                c.call(meter)
            sync(device)
            elapsed = time.perf_counter() - start
            if meter is not None:
                meter.close(meter.stage)
                peak = meter.call_peak
            else:
                peak = (probe.peak() or 0) - base
            if round_ == 0:
                c.peak = max(peak, 0)
            if timed:
                c.seconds.append(elapsed)


def current_bytes(device: torch.device, probe: MemoryProbe) -> int:
    """What is held before a call: allocated bytes on CUDA, the resident set on a CPU."""
    if device.type == "cuda":
        return int(torch.cuda.memory_allocated(device))
    probe.reset()
    return probe.peak() or 0


def glibc(mmap_threshold: int) -> ctypes.CDLL | None:
    """glibc with its mmap threshold fixed at ``mmap_threshold`` bytes (None off glibc)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
    except (OSError, AttributeError):
        return None
    return libc


M_MMAP_THRESHOLD = -3  # mallopt(3)


def run_scale(args: argparse.Namespace, scale: str, precision: str) -> dict[str, Any]:
    """One scale at one precision (``fp32``, ``fp16``, ``bf16``, each optionally ``+compile``)."""
    preset, height, width = SCALES[scale]
    name, _, extra = precision.partition("+")
    device, dtype = torch.device(args.device), DTYPES[name]
    pipe = build_pipeline(preset).to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    run_trained_mixers(pipe.video_decoder, args.trained_mixers)
    peers = [p for p in args.peers.split(",") if p]
    ratios = [float(r) for r in args.sr_steps_ratios.split(",") if r]
    sr_guidances = [None if g == "none" else float(g) for g in args.sr_guidances.split(",") if g]
    cands = contenders(
        pipe, peers, args.frames, height, width, args.steps, args.guidance, ratios, args.before, sr_guidances
    )
    if extra == "compile":
        compile_all(pipe, cands[1:], args.compile_backend)
    stages = StageMeter(probe_for(str(device)), device) if args.stages else None
    measure(cands, args.repeats, device, stages, args.warmup)
    if stages is not None:  # sums over the timed rounds -> per video
        stages.seconds = {k: v / args.repeats for k, v in stages.seconds.items()}
    return {
        "scale": scale,
        "precision": precision,
        "height": height,
        "width": width,
        "contenders": {
            c.name: {
                "seconds": statistics.median(c.seconds),
                "all_seconds": c.seconds,
                "peak_mib": c.peak / MiB,
                "weights_mib": c.weights / MiB,
            }
            for c in cands
        },
        "stages": None
        if stages is None
        else {
            s: {"seconds": stages.seconds.get(s, 0.0), "peak_mib": stages.peak.get(s, 0) / MiB}
            for s in PIPELINE_STAGES
        },
    }


def print_result(result: dict[str, Any], args: argparse.Namespace) -> None:
    rows = result["contenders"]
    peers = [n for n in rows if not n.startswith("videogen")]
    print(
        f"\n## {result['scale']}: {args.frames} frames {result['height']}x{result['width']}, {args.steps} steps,"
        f" CFG {args.guidance}, {result['precision']}, median of {args.repeats}"
    )
    print(
        f"{'pipeline':<24}{'s/video':>10}{'peak MiB':>10}{'weights MiB':>13}"
        + "".join(f"{'x cheaper than ' + p:>32}" for p in peers)
    )
    for name, r in rows.items():
        cells = [
            f"{rows[p]['seconds'] / r['seconds']:.2f}x" if name.startswith("videogen") else "-" for p in peers
        ]
        print(
            f"{name:<24}{r['seconds']:>10.3f}{r['peak_mib']:>10.0f}{r['weights_mib']:>13.1f}"
            + "".join(f"{c:>32}" for c in cells)
        )
    if result["stages"]:
        print(f"{next(iter(rows)) + ' per stage':<24}{'s/video':>10}{'peak MiB':>10}")
        for stage, s in result["stages"].items():
            print(f"{stage:<24}{s['seconds']:>10.3f}{s['peak_mib']:>10.0f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scales", default="demo,mid", help=f"comma-separated, of {sorted(SCALES)}")
    p.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, of {PEERS} (empty: none)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--repeats", type=int, default=3, help="timed rounds")
    p.add_argument(
        "--warmup", type=int, default=1, help="untimed rounds first (peak memory is read in the first)"
    )
    p.add_argument(
        "--sr-steps-ratios",
        default="",
        help="comma-separated: videogen once per super-resolution steps ratio (default: the model's own)",
    )
    p.add_argument(
        "--sr-guidances",
        default="",
        help="comma-separated caps on the super-resolution stage's guidance, 'none' for the model's own",
    )
    p.add_argument(
        "--before",
        action="store_true",
        help="also videogen before the speed-ups (sr ratio 1, every decoder stage)",
    )
    p.add_argument(
        "--trained-mixers",
        type=int,
        default=2,
        help="decoder temporal stages that run, deepest first (2: as weights/demo ships; the rest are identity)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--precisions",
        default="fp32",
        help=f"comma-separated, of {sorted(DTYPES)}, each optionally +compile (torch.compile every denoiser and"
        " decoder), e.g. fp32,fp16,fp16+compile",
    )
    p.add_argument(
        "--compile-backend", default="inductor", help="for +compile (eager: trace only, for tests)"
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--stages", action="store_true", help="also videogen's seconds and peak memory per stage")
    p.add_argument("--json", type=Path, default=None, help="also write the results here (after each run)")
    args = p.parse_args(argv)
    scales = [s for s in args.scales.split(",") if s]
    precisions = [x for x in args.precisions.split(",") if x]
    for scale in scales:
        if scale not in SCALES:
            p.error(f"unknown scale {scale!r}; choose from {sorted(SCALES)}")
    for precision in precisions:
        name, _, extra = precision.partition("+")
        if name not in DTYPES or extra not in ("", "compile"):
            p.error(f"unknown precision {precision!r}: one of {sorted(DTYPES)}, optionally +compile")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"# bench/peers.py on {args.device} ({os.cpu_count()} CPUs, torch {torch.__version__},"
        f" {torch.get_num_threads()} threads)"
    )
    results = []
    for scale in scales:
        for precision in precisions:
            results.append(run_scale(args, scale, precision))
            print_result(results[-1], args)
            if args.json:  # after each run: a later one that fails or times out leaves these
                payload = {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "torch": torch.__version__,
                    "cuda": torch.version.cuda,
                    "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
                    "results": results,
                }
                args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
