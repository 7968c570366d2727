"""The RQ worker class of ``videogen worker``: RQ's non-forking ``SimpleWorker`` with this project's SIGTERM/SIGINT
handling in place of RQ's, a log context around every job, and the hand-back of interrupted jobs.

RQ's own handling (``BaseWorker.request_stop``/``request_force_stop``) is replaced, not layered: its warm shutdown
would let the job run to the end whatever the orchestrator's grace period, and its cold shutdown raises
``SystemExit`` in the middle of the job, leaving the video to the lost-job sweep (one attempt spent). Here:

- a signal while idle (waiting on the queue) stops the loop at once (``StopRequested``, as RQ does);
- a signal while busy lets the job run until the drain deadline (``worker.shutdown``), after which the job's next
  progress callback raises ``JobInterruptedError``; the job puts its video back to ``queued`` and this class
  re-enqueues it once RQ has finished its bookkeeping (RQ deletes a finished job's hash, ``result_ttl=0``, so
  enqueueing the same job id from inside the job would be undone).

RQ's command thread (the pubsub listener for ``rq`` shutdown/stop-job commands) reads in ``PUBSUB_READ_S`` slices
instead of RQ's 60 s: RQ's teardown unsubscribes and then stops the thread, and redis-py's ``stop()`` (8.x) joins
it without a timeout. When the unsubscribe reply reaches the thread before the stop, the thread goes back to
waiting for a subscription for a whole read, so a worker took up to 60 s to exit after SIGTERM, longer than a
container's grace period.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Any

from rq.exceptions import StopRequested
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker, WorkerStatus
from rq.worker.base import signal_name

from core.context import Context
from core.logging import log_context
from core.queue import JOB_FUNCTION
from worker.outage import retry_redis
from worker.shutdown import COLD_SIGNALS, Shutdown

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PUBSUB_READ_S = 1.0  # the command thread's read slice: the most its stop can wait


class VideoWorker(SimpleWorker):
    """``VideoWorker(queues, ctx=..., shutdown=..., connection=..., name=...)``."""

    def __init__(self, *args: Any, ctx: Context, shutdown: Shutdown, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ctx = ctx
        self.shutdown = shutdown

    def subscribe(self) -> None:
        """RQ's ``subscribe`` with ``PUBSUB_READ_S`` reads (see the module docstring)."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_READ_S, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def _install_signal_handlers(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.on_stop_signal)

    def on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        count = self.shutdown.request()
        name = signal_name(signum)
        if count >= COLD_SIGNALS:
            logger.warning("worker %s: %s again (%d signals): exiting now", self.name, name, count)
            raise SystemExit(1)
        if self.get_state() != WorkerStatus.BUSY:
            logger.info("worker %s: %s while idle: stopping", self.name, name)
            raise StopRequested()
        self._stop_requested = True  # RQ's loop checks it before taking the next job
        if count == 1:
            logger.warning(
                "worker %s: %s: taking no new jobs; the running video has %g s to finish, then goes back to the"
                " queue",
                self.name,
                name,
                self.shutdown.drain_s,
            )
        else:
            logger.warning(
                "worker %s: %s again: handing the running video back to the queue now", self.name, name
            )

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run the job in this process (as ``SimpleWorker`` does) inside its log context; then re-enqueue what
        it handed back. The worker stays BUSY until then, so a signal cannot cut the re-enqueue short."""
        with log_context(**job_log_fields(job)):
            execution = self.prepare_execution(job)
            self.perform_job(job, queue, execution)
            for video_id, attempt, priority in self.shutdown.take_handed_back():
                retry_redis(
                    f"video {video_id}: re-enqueueing",
                    lambda v=video_id, a=attempt, p=priority: self.ctx.queue.enqueue(v, a, p, at_front=True),
                )
                logger.info("video %s: attempt %d is back at the front of the queue", video_id, attempt)
            self.set_state(WorkerStatus.IDLE)


def job_log_fields(job: Job) -> dict[str, Any]:
    """``job_id`` and, for a video job, ``video_id`` and ``attempt``."""
    fields: dict[str, Any] = {"job_id": job.id}
    try:
        if job.func_name == JOB_FUNCTION and len(job.args) >= 2:
            fields.update(video_id=job.args[0], attempt=job.args[1])
    except Exception:  # a job whose payload does not load: RQ reports that itself
        pass
    return fields
