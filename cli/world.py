"""``videogen world make --out DIR``: render synthetic-world clips as MP4s plus a WebVid-layout captions.csv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("world", help="the synthetic world: render a captioned training set")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    make = actions.add_parser("make", help="write MP4 clips and captions.csv (videoid, name, path)")
    make.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    make.add_argument("--clips", type=int, default=1000)
    make.add_argument("--size", type=int, default=64, help="frame side in pixels (even)")
    make.add_argument("--frames", type=int, default=16)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--fps", type=float, default=8.0)
    make.add_argument(
        "--include-held-out",
        action="store_true",
        help="also render the held-out combinations (models/world.py)",
    )
    make.add_argument("--no-captions", action="store_true", help="videos only (an unlabeled folder)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.clips < 1:
        raise ValueError(f"--clips={args.clips} must be >= 1")
    if args.size < 8 or args.size % 2:
        raise ValueError(f"--size={args.size} must be an even number >= 8")
    if args.frames < 1:
        raise ValueError(f"--frames={args.frames} must be >= 1")
    from models.train.data import write_world_folder

    write_world_folder(
        args.out,
        clips=args.clips,
        size=args.size,
        num_frames=args.frames,
        seed=args.seed,
        include_held_out=args.include_held_out,
        fps=args.fps,
        captions=not args.no_captions,
    )
    print(f"wrote {args.clips} clips to {args.out}", file=sys.stderr)
    return 0
