"""Job metrics shared through Redis: workers add stage durations and outcomes, any API replica serves them at
``/metrics``. Per-process request counters stay in the API process (``service.metrics``)."""

from __future__ import annotations

import redis

from core.keys import Keys

# Histogram bucket upper bounds for stage durations, seconds.
STAGE_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# ... and for peak memory per stage, bytes: 256 MiB to 128 GiB in doublings.
MEMORY_BUCKETS_BYTES = tuple(2**n for n in range(28, 38))


def observe_stages(
    client: redis.Redis, keys: Keys, timings: dict[str, float], peak_memory: dict[str, int] | None = None
) -> None:
    """Add one job's per-stage durations (seconds) and peak memory (bytes) to the shared histograms."""
    pipe = client.pipeline(transaction=False)
    _observe(pipe, keys.stage_seconds, timings, STAGE_BUCKETS_S)
    _observe(pipe, keys.stage_memory, peak_memory or {}, MEMORY_BUCKETS_BYTES)
    pipe.execute()


def _observe(
    pipe: redis.client.Pipeline,
    key: str,
    values: dict[str, float] | dict[str, int],
    bounds: tuple[float, ...] | tuple[int, ...],
) -> None:
    for stage, value in values.items():
        for bound in bounds:
            if value <= bound:
                pipe.hincrby(key, f"{stage}|{bound}", 1)
        pipe.hincrby(key, f"{stage}|count", 1)
        pipe.hincrbyfloat(key, f"{stage}|sum", value)


def count_finished(client: redis.Redis, keys: Keys, status: str, error_code: str | None = None) -> None:
    """Count one terminal outcome: ``completed``, ``cancelled`` or ``failed`` with its error code."""
    field = f"failed:{error_code}" if status == "failed" else status
    client.hincrby(keys.finished, field, 1)


def read_stage_histograms(client: redis.Redis, key: str) -> dict[str, dict[str, float]]:
    """stage -> {"<bound>": cumulative count, ..., "count": n, "sum": total} of the histogram at ``key``
    (``keys.stage_seconds`` or ``keys.stage_memory``)."""
    out: dict[str, dict[str, float]] = {}
    for field, value in client.hgetall(key).items():
        stage, _, part = field.decode().partition("|")
        out.setdefault(stage, {})[part] = float(value)
    return out


def read_finished(client: redis.Redis, keys: Keys) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in client.hgetall(keys.finished).items()}
