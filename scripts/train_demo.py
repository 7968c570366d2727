#!/usr/bin/env python3
"""Train the demo model end to end: the recipe behind ``weights/demo`` (docs/training.md has the numbers).

    scripts/train_demo.py --workdir runs/demo --out weights/demo [--vae-from weights/demo] [--budget-minutes M]

1. The VAE: trained with ``videogen train vae``, or copied from a pipeline folder's ``vae/`` (``--vae-from``).
2. The other five stages train at the same time, one process each: they only read the frozen VAE and the frozen
   text encoder (the preset's seeded init), and every video stage sees ground-truth first frames as references.
   With ``--budget-minutes``, a short calibration run of all five measures seconds per step on this machine and
   each stage gets the steps that fit the budget (at most ``MAX_STEPS``); without it, ``MAX_STEPS``.
3. ``videogen train assemble`` writes the pipeline folder.

Every command is printed before it runs, so a run can be repeated by hand; each stage logs to WORKDIR/STAGE.log.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

VIDEOGEN = [sys.executable, "-m", "cli.main"]
STAGES = ("reference", "base", "sr", "upsampler", "decoder")
COMMON = "--seed 0 --pool-size 8000 --log-every 50 --checkpoint-every 500 --lr 1e-3 --ema-decay 0.999"
STAGE_ARGS = {
    "reference": "--batch-size 64",
    "base": "--batch-size 64",
    "sr": "--batch-size 32 --sr-crop 8",
    "upsampler": "--batch-size 32",
    "decoder": "--batch-size 8 --lr 5e-4 --ema-decay 0.99",
}
MAX_STEPS = {"reference": 8000, "base": 12000, "sr": 8000, "upsampler": 3000, "decoder": 1000}
VAE_ARGS = "--seed 0 --steps 3000 --batch-size 16 --lr 1e-3 --log-every 50 --checkpoint-every 250"


def command(stage: str, workdir: Path, extra: str, threads: int) -> list[str]:
    return [
        *VIDEOGEN,
        "train",
        stage,
        "--workdir",
        str(workdir),
        "--threads",
        str(threads),
        *shlex.split(extra),
    ]


def run_parallel(commands: dict[str, list[str]], logs: Path) -> None:
    """Run one process per stage, wait for all; fail naming the stages that failed (with their log's tail)."""
    procs = {}
    for stage, cmd in commands.items():
        print("+", shlex.join(cmd), flush=True)
        procs[stage] = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=(logs / f"{stage}.log").open("w")
        )
    failed = [stage for stage, proc in procs.items() if proc.wait() != 0]
    for stage in failed:
        tail = (logs / f"{stage}.log").read_text().splitlines()[-15:]
        print(f"--- {stage} failed:", *tail, sep="\n", file=sys.stderr)
    if failed:
        raise SystemExit(f"stages failed: {', '.join(failed)}")


def seconds_per_step(loss_csv: Path) -> float:
    """From a stage's loss log: wall seconds per step between its first and last logged rows."""
    rows = list(csv.DictReader(loss_csv.open()))
    first, last = rows[0], rows[-1]
    return (float(last["seconds"]) - float(first["seconds"])) / (int(last["step"]) - int(first["step"]))


def calibrate(
    workdir: Path, threads: int, budget_s: float, calib_steps: int, min_steps: int
) -> dict[str, int]:
    """Steps per stage that fit ``budget_s`` when all stages train at once on this machine."""
    calib = workdir / "calibration"
    shutil.rmtree(calib, ignore_errors=True)
    (calib / "vae").mkdir(parents=True)
    shutil.copytree(workdir / "vae" / "model", calib / "vae" / "model")
    log_every = max(1, calib_steps // 3)
    extra = (
        f"--steps {calib_steps} --log-every {log_every} --checkpoint-every 100000 --pool-size 256 --seed 0"
    )
    started = time.monotonic()
    run_parallel({s: command(s, calib, f"{extra} {STAGE_ARGS[s]}", threads) for s in STAGES}, calib)
    print(f"calibration: {time.monotonic() - started:.0f}s", flush=True)
    steps = {}
    for stage in STAGES:
        sps = seconds_per_step(calib / stage / "loss.csv")
        fit = int(budget_s / sps) // 100 * 100
        steps[stage] = max(min_steps, min(MAX_STEPS[stage], fit))
        print(f"  {stage}: {sps * 1000:.0f} ms/step -> {steps[stage]} steps", flush=True)
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="pipeline folder to write")
    parser.add_argument(
        "--vae-from", type=Path, help="take the VAE from this pipeline folder instead of training"
    )
    parser.add_argument("--budget-minutes", type=float, help="fit the parallel stages into this much time")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    parser.add_argument("--calibration-steps", type=int, default=60)
    parser.add_argument("--min-steps", type=int, default=200, help="no stage trains fewer steps")
    args = parser.parse_args()

    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    vae_model = workdir / "vae" / "model"
    if args.vae_from is not None:
        shutil.rmtree(vae_model, ignore_errors=True)
        shutil.copytree(args.vae_from / "vae", vae_model)
        print(f"VAE: copied from {args.vae_from / 'vae'}", flush=True)
    elif not (vae_model / "config.json").is_file():
        run_parallel({"vae": command("vae", workdir, VAE_ARGS, args.threads)}, workdir)

    steps = MAX_STEPS
    if args.budget_minutes:
        # Steady-state training time: start-up, first renders of the pool, the final save and samples take
        # the 20% left over.
        budget_s = 0.8 * 60 * args.budget_minutes
        steps = calibrate(workdir, args.threads, budget_s, args.calibration_steps, args.min_steps)
    started = time.monotonic()
    commands = {
        s: command(s, workdir, f"{COMMON} {STAGE_ARGS[s]} --steps {steps[s]}", args.threads) for s in STAGES
    }
    run_parallel(commands, workdir)
    print(f"stages: {time.monotonic() - started:.0f}s", flush=True)
    assemble = [*VIDEOGEN, "train", "assemble", "--workdir", str(workdir), "--out", str(args.out)]
    print("+", shlex.join(assemble), flush=True)
    subprocess.run(assemble, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
