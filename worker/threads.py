"""Thread pools for workers that share a host: each worker sizes torch's and ONNX Runtime's intra-op pools to its
share of the CPUs it may use (its affinity mask, capped by a cgroup CPU quota, divided by
``VIDEOGEN_WORKERS_PER_HOST``), or to ``VIDEOGEN_TORCH_THREADS``. Two processes that each run one pool per core on
the same cores spin-wait against each other (OpenMP's default): a 60-step 32x32 tiny job went from ~5 s to
~100 s with two workers on 2 cores. Sized pools and passive OpenMP waiting avoid that."""

from __future__ import annotations

import contextlib
import logging
import math
import os
from pathlib import Path

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def affinity_cpus() -> int:
    """CPUs this process may run on (its affinity mask; ``os.cpu_count()`` where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cgroup_quota(root: Path = CGROUP_ROOT) -> float | None:
    """The cgroup CPU quota in CPUs (``cpu.max`` "200000 100000" -> 2.0; v1 ``cfs_quota_us / cfs_period_us``),
    or None where there is no limit or no cgroup file."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def thread_count(
    affinity: int, quota: float | None, workers_per_host: int = 1, explicit: int | None = None
) -> int:
    """Intra-op threads for one worker: ``explicit`` if given, else ``min(affinity, ceil(quota))`` CPUs divided
    by ``workers_per_host`` (rounded down), at least 1. ``affinity`` in CPUs, ``quota`` in CPUs (None: no limit)."""
    if explicit is not None:
        return max(1, explicit)
    cpus = affinity if quota is None else min(affinity, max(1, math.ceil(quota)))
    return max(1, cpus // max(1, workers_per_host))


def worker_threads(workers_per_host: int = 1, explicit: int | None = None) -> int:
    """``thread_count`` for this process's affinity mask and cgroup quota; without ``explicit``, a numeric
    ``OMP_NUM_THREADS`` in the environment counts as explicit (an operator who set it meant it)."""
    if explicit is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        explicit = int(os.environ["OMP_NUM_THREADS"])
    return thread_count(affinity_cpus(), cgroup_quota(), workers_per_host, explicit)


def configure_threads(workers_per_host: int = 1, explicit: int | None = None) -> int:
    """Size this process's pools; call before torch runs anything (ideally before it is imported, so OpenMP
    reads the environment). Sets ``OMP_NUM_THREADS`` (unless set) and, when the host is shared (several workers, or fewer
    threads than CPUs), ``OMP_WAIT_POLICY=PASSIVE`` (unless set); then
    ``torch.set_num_threads``. Returns the thread count (also the ONNX Runtime intra-op pool size)."""
    affinity = affinity_cpus()
    threads = worker_threads(workers_per_host, explicit)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if workers_per_host > 1 or threads < affinity:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already fixed: torch ran parallel work before this call
        torch.set_num_interop_threads(1 if threads == 1 else 2)
    logger.info(
        "threads: %d for torch and ONNX Runtime (%d CPUs in the affinity mask, %d workers per host,"
        " OMP_WAIT_POLICY=%s)",
        threads,
        affinity,
        workers_per_host,
        os.environ.get("OMP_WAIT_POLICY", "default"),
    )
    return threads
