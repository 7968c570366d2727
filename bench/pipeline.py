"""Where VideoGenPipeline's time goes, per stage, on this machine's CPU.

    .venv/bin/python bench/pipeline.py [--configs tiny,mid] [--repeats 3]

For each configuration it prints, per stage: wall time, the time inside model forwards (text encoder, UNets,
VAE, flow upsampler, video decoder), and the share outside them: the pipeline's own overhead (scheduler,
guidance arithmetic, concatenations, copies, progress reporting) plus MP4 encoding as its own row. Each
configuration runs in a fresh subprocess so its peak resident memory is its own.

``mid`` is sized so every denoiser, decoder and upsampler forward takes >= 50 ms on 2 cores (the text encoder's
one call stays short); the target is overhead < 5% there. Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch

from core.media import encode_mp4
from core.stages import PIPELINE_STAGES, Stage
from models.loading import build_pipeline
from models.presets import PRESETS, Preset

MID = Preset(
    text_encoder={**PRESETS["tiny"].text_encoder, "hidden_size": 256, "intermediate_size": 1024},
    vae={
        **PRESETS["tiny"].vae,
        "block_out_channels": (64, 128, 128),
        "up_block_types": ("UpDecoderBlock2D",) * 3,
        "down_block_types": ("DownEncoderBlock2D",) * 3,
        "norm_num_groups": 32,
    },
    reference_unet={
        **PRESETS["tiny"].reference_unet,
        "block_out_channels": (128, 256),
        "cross_attention_dim": 256,
        "norm_num_groups": 32,
        "attention_head_dim": 32,
    },
    video_unet={
        **PRESETS["tiny"].video_unet,
        "block_out_channels": (128, 256),
        "cross_attention_dim": 256,
        "norm_num_groups": 32,
        "attention_head_dim": 32,
    },
    temporal_upsampler={"hidden_channels": 128},
    temporal_attention_head_dim=32,
    pipeline={"default_height": 128, "default_width": 128, "default_num_frames": 16, "max_base_frames": 16},
)
CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": {"preset": "tiny", "height": 32, "width": 32, "num_frames": 16, "steps": 4},
    "mid": {"preset": "mid", "height": 128, "width": 128, "num_frames": 16, "steps": 4},
}
TIMED = {
    "text_encoder": ["forward"],
    "reference_unet": ["forward"],
    "vae": ["encode", "decode"],
    "base_unet": ["forward"],
    "sr_unet": ["forward"],
    "temporal_upsampler": ["forward"],
    "video_decoder": ["forward"],
}


def instrument(pipe: Any, record: Callable[[str, float], None]) -> None:
    """Wrap the models' entry points so each call's wall time is recorded under the model's name."""
    for name, methods in TIMED.items():
        module = getattr(pipe, name)
        for method in methods:
            original = getattr(module, method)

            def timed(*args: Any, _original: Callable = original, _name: str = name, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    record(_name, time.perf_counter() - start)

            setattr(module, method, timed)


class StageClock:
    """Attributes wall time and model time to pipeline stages, driven by the progress callback."""

    def __init__(self) -> None:
        self.stage: str = Stage.REFERENCE
        self.t = time.perf_counter()
        self.wall: dict[str, float] = defaultdict(float)
        self.model: dict[str, float] = defaultdict(float)
        self.calls: dict[str, list[float]] = defaultdict(list)

    def record(self, model: str, seconds: float) -> None:
        self.model[self.stage] += seconds
        self.calls[model].append(seconds)

    def __call__(self, stage: str, step: int, total: int) -> None:
        now = time.perf_counter()
        self.wall[self.stage] += now - self.t
        # Work after a stage's last step (e.g. encoding the reference) belongs to the next stage.
        self.stage = stage if step < total else _next_stage(stage)
        self.t = now


def measure_once(pipe: Any, cfg: dict[str, Any]) -> StageClock:
    clock = StageClock()
    instrument(pipe, clock.record)
    start = time.perf_counter()
    out = pipe(
        "a red circle moving left on a black background",
        num_frames=cfg["num_frames"],
        height=cfg["height"],
        width=cfg["width"],
        num_inference_steps=cfg["steps"],
        guidance_scale=4.0,
        temporal_upsampling=2,
        seed=0,
        callback=clock,
    )
    clock.wall[clock.stage] += time.perf_counter() - clock.t
    t = time.perf_counter()
    encode_mp4(out.frames[0], fps=8)
    clock.wall[Stage.ENCODE] = time.perf_counter() - t
    clock.wall["total"] = time.perf_counter() - start
    clock.model["total"] = sum(clock.model.values())
    for model, methods in TIMED.items():  # undo the wrappers
        for method in methods:
            getattr(pipe, model).__dict__.pop(method, None)
    return clock


def run_one(config_name: str, repeats: int) -> dict[str, Any]:
    """Measure one configuration in this process: per-stage seconds of the fastest of ``repeats`` runs."""
    torch.set_num_threads(2)
    cfg = CONFIGS[config_name]
    PRESETS["mid"] = MID
    pipe = build_pipeline(cfg["preset"])
    pipe.set_progress_bar_config(disable=True)
    measure_once(pipe, cfg)  # warm-up: allocators, oneDNN kernels
    best = min((measure_once(pipe, cfg) for _ in range(repeats)), key=lambda c: c.wall["total"])
    return {
        "config": config_name,
        "wall": dict(best.wall),
        "model": dict(best.model),
        "min_forward_ms": {m: 1000 * min(v) for m, v in best.calls.items()},
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _next_stage(stage: str) -> str:
    order = [*PIPELINE_STAGES, "done"]
    return order[order.index(stage) + 1] if stage in order else stage


def print_table(result: dict[str, Any]) -> None:
    wall, model = result["wall"], result["model"]
    print(f"\n## {result['config']}  (peak RSS {result['peak_mib']:.0f} MiB)")
    print(f"{'stage':<20}{'wall s':>9}{'models s':>10}{'overhead':>10}")
    for stage in [*PIPELINE_STAGES, Stage.ENCODE, "total"]:
        w = wall.get(stage, 0.0)
        m = model.get(stage, 0.0)
        share = f"{100 * (w - m) / w:.1f}%" if w > 0 else "-"
        print(f"{stage:<20}{w:>9.3f}{m:>10.3f}{share:>10}")
    pipeline_wall = wall["total"] - wall.get("encode", 0.0)
    pipeline_overhead = 100 * (pipeline_wall - model["total"]) / pipeline_wall
    print(f"pipeline overhead (excluding MP4 encode): {pipeline_overhead:.1f}%")
    fastest = min(result["min_forward_ms"].items(), key=lambda kv: kv[1])
    print(f"fastest model call: {fastest[0]} {fastest[1]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default="tiny,mid")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.repeats)))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {args.repeats} runs")
    for name in args.configs.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", name, "--repeats", str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        print_table(json.loads(proc.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
