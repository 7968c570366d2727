"""Service benchmark: the real API (uvicorn) and one warm worker (tiny model) on a private Redis, over HTTP.

Prints a table: submit latency p50/p99 under concurrent clients, enqueue-to-start latency with a warm idle worker,
and throughput in jobs per minute.

    python bench/api.py [--clients 8] [--submits 400] [--start-samples 10] [--jobs 12]

``--wrk`` measures the submit path alone with Debian's ``wrk`` (``apt-get install wrk``; Python clients top out
below the server on a small machine): one API process, no worker, ``--connections`` connections for
``--duration`` seconds against ``GET /healthz`` (the calibration: what this machine and load generator reach on
the cheapest route, in the same run) and then ``POST /videos``; a table of requests/s and latency p50/p99.

    python bench/api.py --wrk [--connections 32] [--duration 10] [--rate 330] [--profile stacks.txt]

wrk keeps every connection busy (a closed loop), so at saturation the mean latency is connections / throughput
(Little's law) whatever the code does. ``--rate R`` adds a run before the saturating one: the same connections,
each waiting a random (exponential) pause between its requests so that together they offer about R submits/s,
the load a service runs at; its latency is what a client sees at that rate. The table gives the rate wrk
reached, not the one asked for.

``--profile`` samples the API with py-spy (dev extra) during the submit run: collapsed stacks, one a line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.context import Context  # noqa: E402
from core.lifecycle import publish_worker  # noqa: E402
from core.local_redis import start_redis  # noqa: E402
from core.params import TINY_PRESET_CAPABILITIES  # noqa: E402
from core.settings import Settings  # noqa: E402

JOB = {
    "prompt": "a red ball moving right",
    "num_frames": 4,
    "size": "32x32",
    "num_inference_steps": 2,
    "temporal_upsampling": 1,
}


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


WRK_POST = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{body}'
"""
# With --rate: each connection pauses an exponential time of mean ``connections / rate`` seconds before each
# request (wrk calls delay() then; its latency clock starts when the request is sent), seeded per thread.
WRK_PACED = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
function init(args)
  math.randomseed(os.time() * 100 + seed)
end
function delay()
  return math.floor(-math.log(1 - math.random()) * {mean_ms})
end
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    url: str, connections: int, duration_s: int, script: Path | None, server_pid: int
) -> dict[str, float]:
    """requests/s, p50 and p99 latency (ms), non-2xx count of one ``wrk`` run (2 threads) and the server's CPU
    milliseconds per request (``server_pid``'s CPU time over the run / requests wrk counted)."""
    cpu_before = cpu_seconds(server_pid)
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration_s}s", "--latency", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    cpu_s = cpu_seconds(server_pid) - cpu_before

    def latency_ms(q: str) -> float:
        value, unit = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency_ms("50"),
        "p99": latency_ms("99"),
        "non2xx": float(bad.group(1)) if bad else 0.0,
        "socket_errors": errors.group(1) if errors else "none",
        "cpu_ms": 1000 * cpu_s / max(1, int(re.search(r"(\d+) requests in", out).group(1))),
    }


def api_command(port: int) -> list[str]:
    """``videogen serve`` on ``port``, logging warnings only (the request lines would cost the bench)."""
    return [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--log-level", "warning"]


def service_env(workdir: Path, redis_url: str, max_queued: int) -> dict[str, str]:
    """The environment of the API and worker under test: our settings only, auth and rate limit off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env.update(
        {
            "REDIS_URL": redis_url,
            "VIDEOGEN_AUTH_ENABLED": "false",
            "VIDEOGEN_MODEL": "tiny",
            "VIDEOGEN_DATA_DIR": str(workdir / "data"),
            "VIDEOGEN_RATE_LIMIT_PER_MINUTE": "0",
            "VIDEOGEN_MAX_QUEUED": str(max_queued),
        }
    )
    return env


def wrk_bench(
    connections: int, duration_s: int, rate: float | None = None, profile: Path | None = None
) -> int:
    """The submit path under ``wrk`` beside the /healthz calibration; prints a table. With ``rate``, a run first
    offers about that many submits/s (paced connections, see ``WRK_PACED``). With ``profile``, py-spy samples
    the API during the saturating submit run and writes collapsed stacks there (``--format raw``)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="videogen-bench-"))
    redis_proc, redis_url = start_redis(workdir)
    port = free_port()
    env = service_env(workdir, redis_url, max_queued=10_000_000)
    script = workdir / "post.lua"
    script.write_text(WRK_POST.format(body=json.dumps(JOB)))
    paced_script = workdir / "paced.lua"
    if rate is not None:
        mean_ms = 1000 * connections / rate
        paced_script.write_text(script.read_text() + WRK_PACED.replace("{mean_ms}", f"{mean_ms:.3f}"))
    logs = open(workdir / "processes.log", "wb")  # noqa: SIM115
    api = subprocess.Popen(api_command(port), env=env, cwd=REPO, stdout=logs, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: ok(f"{base}/healthz"), 120, "the API")
        # A tiny worker's presence as a real one announces it, so submits resolve params against a live model,
        # without a worker process taking the cores the API and wrk need.
        settings = Settings(redis_url=redis_url, data_dir=workdir / "data", auth_enabled=False, model="tiny")
        ctx = Context.build(settings, redis.Redis.from_url(redis_url))
        publish_worker(ctx, "bench-presence", TINY_PRESET_CAPABILITIES, busy=None, ttl_s=3 * duration_s + 60)
        run_wrk(f"{base}/healthz", connections, 2, None, api.pid)  # warm-up
        health = run_wrk(f"{base}/healthz", connections, duration_s, None, api.pid)
        runs = [("GET /healthz", health)]
        if rate is not None:  # first, while the queue is as shallow as a service keeps it
            paced = run_wrk(f"{base}/videos", connections, duration_s, paced_script, api.pid)
            runs.append((f"POST /videos, ~{rate:.0f}/s offered", paced))
        spy = None
        if profile is not None:
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--duration",
                    str(duration_s),
                    "--pid",
                    str(api.pid),
                    "--output",
                    str(profile),
                ],
                stdout=logs,
                stderr=subprocess.STDOUT,
            )
        submit = run_wrk(f"{base}/videos", connections, duration_s, script, api.pid)
        if spy is not None:
            spy.wait(timeout=60)
        runs.append(("POST /videos", submit))
        queued = sum(
            redis.Redis.from_url(redis_url).llen(k)
            for k in redis.Redis.from_url(redis_url).keys("rq:queue:*")
        )
    finally:
        api.terminate()
        api.wait(timeout=60)
        redis_proc.terminate()
        redis_proc.wait(timeout=30)
        logs.close()
    print(
        f"wrk -t2 -c{connections} -d{duration_s}s, one API process (uvicorn), no worker; {os.cpu_count()} CPUs"
    )
    print(
        "| route | requests/s | p50 (ms) | p99 (ms) | non-2xx | socket errors | ratio to /healthz"
        " | API CPU ms/request |"
    )
    print(
        "|-------|-----------:|---------:|---------:|--------:|---------------|------------------:"
        "|-------------------:|"
    )
    for name, r in runs:
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['non2xx']:.0f} |"
            f" {r['socket_errors']} | {r['rps'] / health['rps']:.2f} | {r['cpu_ms']:.2f} |"
        )
    print(f"jobs left queued in Redis: {queued}")
    return 0


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
    parser.add_argument("--wrk", action="store_true", help="measure the submit path alone with wrk")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument(
        "--rate", type=float, help="with --wrk: also a run offering about this many submits/s (paced)"
    )
    parser.add_argument(
        "--profile", type=Path, help="with --wrk: py-spy's collapsed stacks of the submit run"
    )
    args = parser.parse_args()
    if args.wrk:
        return wrk_bench(args.connections, args.duration, args.rate, args.profile)

    workdir = Path(tempfile.mkdtemp(prefix="videogen-bench-"))
    redis_proc, redis_url = start_redis(workdir)
    port = free_port()
    env = service_env(workdir, redis_url, max_queued=args.submits + args.jobs + 10)
    env["VIDEOGEN_PROGRESS_INTERVAL_S"] = "0.5"
    logs = open(workdir / "processes.log", "wb")  # noqa: SIM115
    api = subprocess.Popen(api_command(port), env=env, cwd=REPO, stdout=logs, stderr=subprocess.STDOUT)
    worker = None
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: ok(f"{base}/healthz"), 120, "the API")
        # 1. Submit latency, with no worker running (jobs only queue up), then drop the queued jobs.
        latencies = submit_latency(base, args.clients, args.submits)
        redis.Redis.from_url(redis_url).flushdb()
        # 2. One warm worker.
        worker_cmd = [sys.executable, "-m", "cli.main", "worker", "--name", "bench"]
        worker = subprocess.Popen(worker_cmd, env=env, cwd=REPO, stdout=logs, stderr=subprocess.STDOUT)
        wait_until(lambda: ok(f"{base}/readyz"), 600, "a warm worker")
        # The stored record's times (unix seconds, sub-second); the public object's are whole seconds.
        settings = Settings(redis_url=redis_url, data_dir=workdir / "data", auth_enabled=False, model="tiny")
        records = Context.build(settings, redis.Redis.from_url(redis_url)).records
        with httpx.Client(base_url=base, timeout=60) as http:
            starts, durations, walls = [], [], []
            for _ in range(args.start_samples):
                video = finish(http, http.post("/videos", json=JOB).json()["id"])
                record = records.get(video["id"])
                starts.append(record.started_at - record.created_at)
                walls.append(record.completed_at - record.started_at)
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
