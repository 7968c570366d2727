"""``videogen init --from-sd SD_DIR --out OUT_DIR``: a VideoGen model folder inflated from Stable Diffusion."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("init", help="build a VideoGen model folder from a Stable Diffusion folder")
    p.add_argument(
        "--from-sd",
        type=Path,
        required=True,
        metavar="SD_DIR",
        help="diffusers-layout Stable Diffusion folder",
    )
    p.add_argument("--out", type=Path, required=True, metavar="OUT_DIR", help="VideoGen folder to write")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from models.pipeline_videogen import VideoGenPipeline

    if args.out.exists() and any(args.out.iterdir()):
        raise ValueError(f"--out {args.out} is not empty")
    pipe = VideoGenPipeline.from_stable_diffusion(args.from_sd)
    args.out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(args.out, safe_serialization=True)
    print(f"wrote {args.out} (inflated from {args.from_sd})", file=sys.stderr)
    return 0
