"""The worker process: load the pipeline once, announce the worker, run the maintenance threads and work the
queue with ``VideoWorker``, RQ's non-forking ``SimpleWorker`` (a forked child would reload the model every job or
break CUDA) with this project's graceful shutdown (``worker.queue_worker``). One process per GPU."""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rq.exceptions import StopRequested

from core.connection import REDIS_DOWN_ERRORS, worker_redis
from core.context import Context
from core.logging import adopt_library_loggers
from core.maintenance import start_maintenance
from core.settings import Settings
from worker import jobs
from worker.heartbeat import WorkerPresence
from worker.outage import backoff_delays
from worker.queue_worker import STOP_SIGNALS, VideoWorker
from worker.runtime import Runtime, load_runtime
from worker.shutdown import Shutdown

logger = logging.getLogger(__name__)

RESTART_DELAY_S = 0.5  # after RQ's loop gives up on a Redis outage, doubling each time...
MAX_RESTART_DELAY_S = 10.0  # ...up to this
STABLE_S = 60.0  # a loop that ran this long before stopping restarts after RESTART_DELAY_S again


def default_worker_name() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


def run_worker(
    settings: Settings,
    name: str | None = None,
    burst: bool = False,
    runtime: Runtime | None = None,
    maintenance: bool = True,
) -> int:
    """Serve jobs until stopped; returns the exit code (0). SIGTERM/SIGINT: no new job, the running one gets
    ``settings.worker_drain_s`` to finish and is then handed back to the queue; a second signal hands it back at
    once, a third exits at once (``worker.shutdown``).

    ``burst`` exits once the queue is empty. ``runtime`` replaces ``load_runtime(settings)`` (tests)."""
    name = name or default_worker_name()
    client = worker_redis(settings.redis_url)
    ctx = Context.build(settings, client)
    started = time.perf_counter()
    runtime = runtime if runtime is not None else load_runtime(settings)
    adopt_library_loggers()  # diffusers and transformers log through our handler from here on
    # The model and the torch/diffusers module graph live as long as the process: keep the collector from
    # walking them after every job (``free_memory``) and at exit (tens of seconds on a busy CPU otherwise).
    gc.freeze()
    logger.info("worker %s: model ready in %.1fs on %s", name, time.perf_counter() - started, runtime.device)
    presence = WorkerPresence(
        ctx,
        name,
        runtime.capabilities,
        settings.worker_priorities,
        period_s=min(2.0, settings.heartbeat_ttl_s / 3),
    )
    shutdown = Shutdown(settings.worker_drain_s)
    jobs.install(jobs.WorkerProcess(ctx, runtime, presence, shutdown))
    presence.start()
    loops = start_maintenance(ctx) if maintenance else []
    try:
        with stop_signals(lambda signum, frame: _stop_between_loops(shutdown)):
            delay = backoff_delays(first_s=RESTART_DELAY_S, cap_s=MAX_RESTART_DELAY_S)
            while True:
                worker = VideoWorker(
                    ctx.queue.serving(settings.worker_priorities),
                    ctx=ctx,
                    shutdown=shutdown,
                    connection=client,
                    name=name,
                    log_job_description=True,
                )
                loop_started = time.monotonic()
                try:
                    worker.work(burst=burst, logging_level=logging.getLevelName(logger.getEffectiveLevel()))
                    if burst or shutdown.requested:
                        return 0
                    reason = "queue loop stopped (Redis unreachable?)"
                except REDIS_DOWN_ERRORS as exc:  # RQ's loop, or its teardown (register_death), lost Redis
                    if shutdown.requested:
                        return 0
                    reason = f"Redis unreachable ({type(exc).__name__}: {exc})"
                except StopRequested:  # a signal between RQ's loop and the next
                    return 0
                if time.monotonic() - loop_started > STABLE_S:  # it had served a while: start over
                    delay = backoff_delays(first_s=RESTART_DELAY_S, cap_s=MAX_RESTART_DELAY_S)
                wait_s = delay()
                logger.warning("worker %s: %s; restarting in %.1f s", name, reason, wait_s)
                time.sleep(wait_s)
    finally:
        for loop in loops:
            loop.stop()
        presence.stop()
        logger.info("worker %s: stopped", name)


def _stop_between_loops(shutdown: Shutdown) -> None:
    shutdown.request()
    raise StopRequested()


@contextmanager
def stop_signals(handler: Callable[[int, object], None]) -> Iterator[None]:
    """SIGTERM and SIGINT go to ``handler`` inside the block (RQ's loop installs its own while it runs); the
    previous handlers come back after it."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
