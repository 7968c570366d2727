"""Service benchmark: the real API (uvicorn) and one warm worker (tiny model) on a private Redis, over HTTP.

Prints a table: submit latency p50/p99 under concurrent clients, enqueue-to-start latency with a warm idle worker,
and throughput in jobs per minute.

    python bench/api.py [--clients 8] [--submits 400] [--start-samples 10] [--jobs 12]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cli.up import start_redis  # noqa: E402

JOB = {"prompt": "a red ball moving right", "num_frames": 4, "size": "32x32", "num_inference_steps": 2,
       "temporal_upsampling": 1}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def submit_latency(base: str, clients: int, submits: int) -> list[float]:
    """Seconds per ``POST /videos`` with ``clients`` threads submitting ``submits`` jobs in all."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(count):
                started = time.perf_counter()
                response = http.post("/videos", json=JOB)
                elapsed = time.perf_counter() - started
                if response.status_code != 202:
                    raise SystemExit(f"submit failed: {response.status_code} {response.text}")
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(submits // clients,)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def finish(http: httpx.Client, video_id: str) -> dict:
    while True:
        video = http.get(f"/videos/{video_id}").json()
        if video["status"] in ("completed", "failed", "cancelled"):
            return video
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--submits", type=int, default=400)
    parser.add_argument(
        "--start-samples", type=int, default=10, help="sequential jobs timed from enqueue to start"
    )
    parser.add_argument("--jobs", type=int, default=12, help="jobs submitted at once for the throughput run")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="videogen-bench-"))
    redis_proc, redis_url = start_redis(workdir)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env.update({"REDIS_URL": redis_url, "VIDEOGEN_AUTH_ENABLED": "false", "VIDEOGEN_MODEL": "tiny",
                "VIDEOGEN_DATA_DIR": str(workdir / "data"), "VIDEOGEN_RATE_LIMIT_PER_MINUTE": "0",
                "VIDEOGEN_MAX_QUEUED": str(args.submits + args.jobs + 10), "VIDEOGEN_PROGRESS_INTERVAL_S": "0.5"})  # fmt: skip
    cli = [sys.executable, "-m", "cli.main"]
    logs = open(workdir / "processes.log", "wb")  # noqa: SIM115
    api = subprocess.Popen([*cli, "serve", "--port", str(port), "--log-level", "warning"], env=env, cwd=REPO,
                           stdout=logs, stderr=subprocess.STDOUT)  # fmt: skip
    worker = None
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: ok(f"{base}/healthz"), 120, "the API")
        # 1. Submit latency, with no worker running (jobs only queue up), then drop the queued jobs.
        latencies = submit_latency(base, args.clients, args.submits)
        redis.Redis.from_url(redis_url).flushdb()
        # 2. One warm worker.
        worker = subprocess.Popen([*cli, "worker", "--name", "bench"], env=env, cwd=REPO, stdout=logs,
                                  stderr=subprocess.STDOUT)  # fmt: skip
        wait_until(lambda: ok(f"{base}/readyz"), 600, "a warm worker")
        with httpx.Client(base_url=base, timeout=60) as http:
            starts, durations, walls = [], [], []
            for _ in range(args.start_samples):
                video = finish(http, http.post("/videos", json=JOB).json()["id"])
                created, started, completed = (
                    datetime.fromisoformat(video[k]) for k in ("created_at", "started_at", "completed_at")
                )
                starts.append((started - created).total_seconds())
                walls.append((completed - started).total_seconds())
                durations.append(sum(video["timings"].values()))
            # 3. Throughput: a burst of jobs, first submit to last completion.
            began = time.perf_counter()
            ids = [http.post("/videos", json=JOB).json()["id"] for _ in range(args.jobs)]
            results = [finish(http, i) for i in ids]
            elapsed = time.perf_counter() - began
        failed = sum(r["status"] != "completed" for r in results)
    finally:
        for proc in (worker, api):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=60)
        redis_proc.terminate()
        redis_proc.wait(timeout=30)
        logs.close()

    ms = [x * 1000 for x in latencies]
    start_ms = [x * 1000 for x in starts]
    rows = [
        ("submit latency p50 (ms)", f"{percentile(ms, 50):.1f}", f"{args.clients} clients, {len(ms)} POSTs"),
        ("submit latency p99 (ms)", f"{percentile(ms, 99):.1f}", ""),
        (
            "enqueue-to-start p50 (ms)",
            f"{percentile(start_ms, 50):.1f}",
            f"{len(starts)} jobs, idle warm worker",
        ),
        ("enqueue-to-start max (ms)", f"{max(start_ms):.1f}", ""),
        (
            "job stages mean (s)",
            f"{statistics.mean(durations):.2f}",
            "sum of stage timings; tiny, 4x32x32, 2 steps",
        ),
        ("job start-to-complete mean (s)", f"{statistics.mean(walls):.2f}", "as the record's timestamps say"),
        (
            "throughput (jobs/min)",
            f"{args.jobs / elapsed * 60:.1f}",
            f"{args.jobs} jobs, 1 worker, {failed} failed",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'metric':<{width}} | value | notes |")
    print(f"|{'-' * (width + 2)}|-------|-------|")
    for name, value, note in rows:
        print(f"| {name:<{width}} | {value} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
