"""Workers that share a host: N tiny-model jobs run by one worker process alone, then split between K worker
processes on the same CPUs, each sizing its threads as ``videogen worker`` does (``worker.threads``,
``VIDEOGEN_WORKERS_PER_HOST=K``). Prints a table of wall-clock seconds for all N jobs.

    .venv/bin/python bench/workers_per_host.py --jobs 6 --workers 1,2 [--unsized]

Each process loads the model first; the clock starts once every process has loaded it and stops when the last
job ends. ``--unsized`` adds K processes that each use every CPU with OpenMP's default waiting (the setup that
collapsed: expect it to be many times slower; keep --jobs and --steps small).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

JOB = {
    "prompt": "a red ball moving right",
    "num_frames": 8,
    "height": 32,
    "width": 32,
    "temporal_upsampling": 1,
}


def _worker(jobs: int, steps: int, per_host: int, sized: bool, loaded: mp.Barrier, out: mp.Queue) -> None:
    if sized:
        os.environ.pop("OMP_NUM_THREADS", None)
        from worker.threads import configure_threads

        configure_threads(per_host)
    else:
        os.environ["OMP_NUM_THREADS"] = str(os.cpu_count() or 1)
        os.environ.pop("OMP_WAIT_POLICY", None)
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    from models.loading import load_pipeline

    pipe = load_pipeline("tiny", device="cpu")
    pipe(**JOB, num_inference_steps=1, seed=0)  # warm-up, as a worker's
    loaded.wait()
    for seed in range(jobs):
        pipe(**JOB, num_inference_steps=steps, seed=seed)
    out.put(time.monotonic())


def run(jobs: int, workers: int, steps: int, sized: bool) -> float:
    """Seconds from all ``workers`` processes loaded to the last of ``jobs`` jobs done."""
    ctx = mp.get_context("spawn")  # a fresh interpreter each: OpenMP reads its environment at import
    loaded, out = ctx.Barrier(workers + 1), ctx.Queue()
    shares = [jobs // workers + (i < jobs % workers) for i in range(workers)]
    procs = [ctx.Process(target=_worker, args=(n, steps, workers, sized, loaded, out)) for n in shares]
    for proc in procs:
        proc.start()
    loaded.wait()
    started = time.monotonic()
    ended = max(out.get() for _ in procs)
    for proc in procs:
        proc.join()
    return ended - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=6, help="tiny jobs in all (32x32, 8 frames)")
    p.add_argument("--steps", type=int, default=16, help="denoising steps per stage")
    p.add_argument("--workers", default="1,2", help="worker processes per run, comma-separated")
    p.add_argument("--unsized", action="store_true", help="also run K unsized workers (all CPUs, spinning)")
    args = p.parse_args(argv)
    runs = [(int(k), True) for k in args.workers.split(",")]
    if args.unsized:
        runs += [(int(k), False) for k in args.workers.split(",") if int(k) > 1]
    print(
        f"{args.jobs} tiny jobs ({args.steps} steps, 8 frames, 32x32) on {len(os.sched_getaffinity(0))} CPUs"
    )
    print("| workers | threads each | total s | s per job | jobs/min |")
    print("|---|---|---|---|---|")
    for workers, sized in runs:
        seconds = run(args.jobs, workers, args.steps, sized)
        threads = max(1, len(os.sched_getaffinity(0)) // workers) if sized else f"{os.cpu_count()} (unsized)"
        print(
            f"| {workers} | {threads} | {seconds:.1f} | {seconds / args.jobs:.2f} | {60 * args.jobs / seconds:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
