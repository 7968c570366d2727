"""A worker's model load under VIDEOGEN_BACKEND=auto: first start (exports into a fresh engine cache), second
start (reuses it), a torch-only load, then whole default videos auto vs torch, calls alternating.

    .venv/bin/python bench/startup.py --model demo --threads 1
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from worker.runtime import load_model

PROMPT = "a red ball moving right"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="demo")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--videos", type=int, default=3, help="timed videos per backend, after one warm-up each")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    data = Path(tempfile.mkdtemp(prefix="videogen-startup-"))
    try:
        starts = {}
        for name, backend in (("first start", "auto"), ("second start", "auto"), ("torch only", "torch")):
            t = time.perf_counter()
            pipe, choices = load_model(
                args.model, "cpu", backend=backend, data_dir=data, threads=args.threads
            )
            starts[name] = time.perf_counter() - t
            if backend == "auto":
                auto = pipe
                ran = {m: c.backend for m, c in choices.items()}
        times: dict[str, list[float]] = {"auto": [], "torch": []}
        with torch.no_grad():
            for i in range(1 + args.videos):
                for name, variant in (("auto", auto), ("torch", pipe)):
                    t = time.perf_counter()
                    variant(PROMPT, seed=i)
                    times[name].append(time.perf_counter() - t)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    median = {k: statistics.median(v[1:]) for k, v in times.items()}
    print(f"# {args.model} on cpu, {args.threads} threads; auto ran {ran}")
    print(", ".join(f"{k} {v:.1f} s" for k, v in starts.items()))
    print(
        f"whole video (median of {args.videos}): auto {median['auto']:.2f} s, torch {median['torch']:.2f} s,"
        f" {median['torch'] / median['auto']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
