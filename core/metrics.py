"""Job metrics shared through Redis: workers add stage durations and outcomes, any API replica serves them at
``/metrics``. Per-process request counters stay in the API process (``service.metrics``)."""

from __future__ import annotations

import redis

from core.keys import Keys

# Histogram bucket upper bounds for stage durations, seconds.
STAGE_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def observe_stages(client: redis.Redis, keys: Keys, timings: dict[str, float]) -> None:
    """Add one job's per-stage durations (seconds) to the shared histogram."""
    pipe = client.pipeline(transaction=False)
    for stage, seconds in timings.items():
        for bound in STAGE_BUCKETS_S:
            if seconds <= bound:
                pipe.hincrby(keys.stage_seconds, f"{stage}|{bound}", 1)
        pipe.hincrby(keys.stage_seconds, f"{stage}|count", 1)
        pipe.hincrbyfloat(keys.stage_seconds, f"{stage}|sum", seconds)
    pipe.execute()


def count_finished(client: redis.Redis, keys: Keys, status: str, error_code: str | None = None) -> None:
    """Count one terminal outcome: ``completed``, ``cancelled`` or ``failed`` with its error code."""
    field = f"failed:{error_code}" if status == "failed" else status
    client.hincrby(keys.finished, field, 1)


def read_stage_histograms(client: redis.Redis, keys: Keys) -> dict[str, dict[str, float]]:
    """stage -> {"<bound>": cumulative count, ..., "count": n, "sum": seconds}."""
    out: dict[str, dict[str, float]] = {}
    for field, value in client.hgetall(keys.stage_seconds).items():
        stage, _, part = field.decode().partition("|")
        out.setdefault(stage, {})[part] = float(value)
    return out


def read_finished(client: redis.Redis, keys: Keys) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in client.hgetall(keys.finished).items()}
