"""The worker process: load the pipeline once, announce the worker, run the maintenance threads and work the
queue with RQ's non-forking ``SimpleWorker`` (a forked child would reload the model every job or break CUDA).
One process per GPU."""

from __future__ import annotations

import gc
import logging
import os
import socket
import time

from rq.worker import SimpleWorker

from core.connection import worker_redis
from core.context import Context
from core.maintenance import start_maintenance
from core.settings import Settings
from worker import jobs
from worker.heartbeat import WorkerPresence
from worker.runtime import Runtime, load_runtime

logger = logging.getLogger(__name__)

RESTART_DELAY_S = 2.0  # after RQ's loop gives up on a Redis outage


def default_worker_name() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


def run_worker(
    settings: Settings,
    name: str | None = None,
    burst: bool = False,
    runtime: Runtime | None = None,
    maintenance: bool = True,
) -> int:
    """Serve jobs until stopped (SIGINT/SIGTERM: finish the current job, then exit; twice: exit now).

    ``burst`` exits once the queue is empty. ``runtime`` replaces ``load_runtime(settings)`` (tests)."""
    name = name or default_worker_name()
    client = worker_redis(settings.redis_url)
    ctx = Context.build(settings, client)
    started = time.perf_counter()
    runtime = runtime if runtime is not None else load_runtime(settings)
    # The model and the torch/diffusers module graph live as long as the process: keep the collector from
    # walking them after every job (``free_memory``) and at exit (tens of seconds on a busy CPU otherwise).
    gc.freeze()
    logger.info("worker %s: model ready in %.1fs on %s", name, time.perf_counter() - started, runtime.device)
    presence = WorkerPresence(
        ctx, name, runtime.capabilities, period_s=min(2.0, settings.heartbeat_ttl_s / 3)
    )
    jobs.install(ctx, runtime, presence)
    presence.start()
    loops = start_maintenance(ctx) if maintenance else []
    try:
        while True:
            worker = SimpleWorker(
                [settings.queue_name], connection=client, name=name, log_job_description=True
            )
            worker.work(burst=burst, logging_level=logging.getLevelName(logger.getEffectiveLevel()))
            # RQ records a SIGINT/SIGTERM here (its own handlers replace ours while it works).
            if burst or worker._shutdown_requested_date is not None:
                return 0
            logger.warning("worker %s: queue loop stopped (Redis unreachable?); restarting", name)
            time.sleep(RESTART_DELAY_S)
    finally:
        for loop in loops:
            loop.stop()
        presence.stop()
