#!/usr/bin/env python3
"""Make the README's demo media from the demo model: an animated GIF (prompts side by side) and a PNG sheet.

    .venv/bin/python scripts/demo_media.py [--model demo] [--out docs/media]

Every video is generated with the pipeline defaults and seed 0, exactly as ``videogen generate PROMPT`` makes it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

PROMPTS = (
    "a yellow triangle moving up on a gray background",
    "a red circle moving right on a black background",
    "a blue square moving down on a gray background",
    "a magenta triangle moving left on a black background",
)
SCALE = 3  # nearest-neighbour upscaling: 64 px frames are small on a page


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="demo")
    parser.add_argument("--out", type=Path, default=Path("docs/media"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from models.loading import load_pipeline

    pipe = load_pipeline(args.model, device="cpu")
    videos = []
    for prompt in PROMPTS:
        frames = pipe(prompt, generator=torch.Generator().manual_seed(args.seed)).frames[0]
        videos.append(np.asarray(frames))  # (F, H, W, 3) uint8
    gap = np.full((videos[0].shape[0], videos[0].shape[1], 2, 3), 255, dtype=np.uint8)
    strip = np.concatenate([part for v in videos for part in (v, gap)][:-1], axis=2)  # (F, H, W', 3)
    args.out.mkdir(parents=True, exist_ok=True)
    images = [
        Image.fromarray(f).resize((f.shape[1] * SCALE, f.shape[0] * SCALE), Image.Resampling.NEAREST)
        for f in strip
    ]
    images[0].save(args.out / "demo.gif", save_all=True, append_images=images[1:], duration=125, loop=0)
    rule = np.full((2, *strip.shape[2:]), 255, dtype=np.uint8)
    every_third = [part for f in strip[::3] for part in (f, rule)][:-1]
    sheet = np.concatenate(every_third)  # time runs downwards
    Image.fromarray(sheet).save(args.out / "demo_frames.png")
    for prompt in PROMPTS:
        print(prompt)
    print(f"wrote {args.out / 'demo.gif'} and {args.out / 'demo_frames.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
