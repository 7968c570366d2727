"""``videogen eval``: generate a prompt set with several seeds and write a scored report (Markdown + JSON)."""

from __future__ import annotations

import argparse
import logging
import re
import shlex
import sys
from pathlib import Path

DEFAULT_MODEL = "demo"
DEFAULT_SEEDS = "0,1,2"

logger = logging.getLogger("videogen.eval")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score a model on a prompt set: world correctness, temporal consistency, CLIPSIM/FVD/IS",
        description="Generate every prompt with several seeds and write report.md and report.json. World captions"
        " ('a red circle moving up on a black background') are checked from the pixels for colour, shape,"
        " direction and background; CLIPSIM, FVD and IS need local feature models and are otherwise reported as"
        " not available.",
    )
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help="model folder, 'demo' (default) or a preset ('tiny')"
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompts", type=Path, help="prompts file, one a line ('#' starts a comment)")
    source.add_argument(
        "--world",
        action="store_true",
        help="the world set: every held-out combination on both backgrounds plus --seen seen ones",
    )
    p.add_argument("--seen", type=int, default=12, help="seen combinations in the --world set (default 12)")
    p.add_argument("--seeds", default=DEFAULT_SEEDS, help="seeds per prompt: '0,1,2' (default) or '0-4'")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: eval/<model name>)")
    p.add_argument("--steps", type=int, default=None, help="denoising steps per stage (default: the model's)")
    p.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's)")
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--upsample", type=int, default=None, choices=range(4), help="temporal doublings, 0..3")
    p.add_argument("--upsample-mode", choices=("flow", "blend"), default="flow", help="temporal upsampling")
    p.add_argument(
        "--image-decoder", action="store_true", help="decode frame by frame with the image VAE (ablation)"
    )
    p.add_argument("--clip", type=Path, default=None, help="local CLIP folder for CLIPSIM")
    p.add_argument(
        "--fvd-model", type=Path, default=None, help="local video feature network (TorchScript) for FVD"
    )
    p.add_argument("--is-model", type=Path, default=None, help="local classifier (TorchScript) for IS")
    p.add_argument("--save-videos", action="store_true", help="also write every video as MP4 under OUT/mp4")
    p.add_argument("--resume", action="store_true", help="reuse finished samples of an earlier run in OUT")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--dtype",
        choices=("auto", "float32", "float16", "bfloat16"),
        default="auto",
        help="weights precision (auto: float16 on CUDA with the VAE decoders float32, float32 on CPU)",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's; 1 on a busy machine)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no per-video progress lines")
    p.set_defaults(run=run)


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, with every option that differs from its default."""
    parts = ["videogen", "eval", "--model", str(args.model)]
    parts += ["--world", "--seen", str(args.seen)] if args.world else ["--prompts", str(args.prompts)]
    parts += ["--seeds", args.seeds]
    for flag, value in (
        ("--steps", args.steps),
        ("--guidance", args.guidance),
        ("--frames", args.frames),
        ("--height", args.height),
        ("--width", args.width),
        ("--upsample", args.upsample),
        ("--clip", args.clip),
        ("--fvd-model", args.fvd_model),
        ("--is-model", args.is_model),
        ("--threads", args.threads),
        ("--dtype", None if args.dtype == "auto" else args.dtype),
    ):
        if value is not None:
            parts += [flag, str(value)]
    if args.upsample_mode != "flow":
        parts += ["--upsample-mode", args.upsample_mode]
    if args.image_decoder:
        parts.append("--image-decoder")
    if args.out is not None:
        parts += ["--out", str(args.out)]
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    from models.eval.seeds import parse_seeds  # models/ imports torch: only once a command runs

    seeds = parse_seeds(args.seeds)
    for flag, path in (("--clip", args.clip), ("--fvd-model", args.fvd_model), ("--is-model", args.is_model)):
        if path is not None and not path.exists():
            raise FileNotFoundError(f"{flag} {path} does not exist")
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    import torch

    from core.media import write_mp4
    from models.eval.clipsim import ClipScorer
    from models.eval.evaluation import SampleRecord, evaluate
    from models.eval.feature_models import load_feature_net
    from models.eval.generation import GenerationSettings, Variant
    from models.eval.prompts import read_prompts, world_prompts
    from models.eval.report import write_report
    from models.loading import choose_dtype, load_pipeline

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    prompts = world_prompts(seen=args.seen) if args.world else read_prompts(args.prompts)
    model_name = Path(str(args.model)).name or str(args.model)
    out_dir = args.out if args.out is not None else Path("eval") / model_name
    pipe = load_pipeline(args.model, device=args.device, dtype=choose_dtype(args.dtype, args.device))
    clip = ClipScorer.from_folder(args.clip) if args.clip is not None else None
    fvd_net = load_feature_net(args.fvd_model) if args.fvd_model is not None else None
    is_net = load_feature_net(args.is_model) if args.is_model is not None else None
    settings = GenerationSettings(
        num_frames=args.frames,
        height=args.height,
        width=args.width,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        temporal_upsampling=args.upsample,
    )
    variant = Variant(upsample_mode=args.upsample_mode, decoder="image" if args.image_decoder else "video")
    mp4_dir = out_dir / "mp4"
    if args.save_videos:
        mp4_dir.mkdir(parents=True, exist_ok=True)

    def on_sample(record: SampleRecord, done: int, total: int) -> None:
        verdict = ""
        if record.world is not None:
            marks = [f"{k}={'ok' if record.world[k] else 'WRONG'}" for k in ("colour", "shape", "direction")]
            verdict = " " + " ".join(marks)
        logger.info(
            "[%d/%d] %s (seed %d, %s)%s warp=%.2f %.1fs",
            done,
            total,
            record.prompt,
            record.seed,
            record.group,
            verdict,
            record.warping_error,
            record.seconds,
        )

    result = evaluate(
        pipe,
        prompts,
        seeds,
        settings=settings,
        variant=variant,
        clip=clip,
        fvd_net=fvd_net,
        is_net=is_net,
        out_dir=out_dir,
        resume=args.resume,
        model_name=str(args.model),
        on_sample=on_sample,
    )
    if args.save_videos:
        for record, frames in zip(result.samples, result.videos, strict=True):
            slug = re.sub(r"[^a-z0-9]+", "-", record.prompt.lower()).strip("-")[:60]
            write_mp4(frames, mp4_dir / f"{record.index:04d}_{slug}_s{record.seed}.mp4", fps=8.0)
    report = write_report(result, out_dir, command_line(args))
    world = report["groups"].get("world")
    print(f"wrote {out_dir / 'report.md'} and {out_dir / 'report.json'}", file=sys.stderr)
    if world is not None:
        for name in ("held_out", "seen"):
            g = report["groups"].get(name)
            if g is not None:
                print(
                    f"{name}: colour+shape+direction {100 * g['accuracy']['attributes']:.0f}%"
                    f" ({g['correct']['attributes']}/{g['videos']}), warping error {g['warping_error']:.2f}",
                    file=sys.stderr,
                )
    return 0
