"""The RQ job queue: one RQ job per run of a video (``<video id>-<attempt>``), calling
``worker.jobs.generate_video(video_id, attempt)`` by name so the API never imports the worker (or torch)."""

from __future__ import annotations

import contextlib

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from core.settings import Settings

JOB_FUNCTION = "worker.jobs.generate_video"
FAILED_JOB_TTL_S = 24 * 3600  # RQ's own failure records, for debugging; our record carries the error


def job_id(video_id: str, attempt: int) -> str:
    return f"{video_id}-{attempt}"


class JobQueue:
    """Enqueue, inspect and withdraw video jobs."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.queue = Queue(settings.queue_name, connection=client)

    def enqueue(self, video_id: str, attempt: int, at_front: bool = False) -> str:
        """Queue a run of ``video_id``; a retry goes to the front so it does not wait behind newer jobs."""
        job = self.queue.enqueue_call(
            JOB_FUNCTION,
            args=(video_id, attempt),
            job_id=job_id(video_id, attempt),
            timeout=self.settings.job_timeout_s,
            result_ttl=0,
            failure_ttl=FAILED_JOB_TTL_S,
            description=f"generate {video_id} (attempt {attempt})",
            at_front=at_front,
        )
        return job.id

    def depth(self) -> int:
        """Jobs waiting in the queue."""
        return int(self.redis.llen(self.queue.key))

    def position(self, video_id: str, attempt: int) -> int | None:
        """0 for the next job to run; None when the job is not waiting in the queue."""
        pos = self.redis.lpos(self.queue.key, job_id(video_id, attempt))
        return None if pos is None else int(pos)

    def withdraw(self, video_id: str, attempt: int) -> None:
        """Take a waiting job out of the queue and drop RQ's record of it (no error if it already left)."""
        jid = job_id(video_id, attempt)
        self.queue.remove(jid)
        with contextlib.suppress(NoSuchJobError):
            Job.fetch(jid, connection=self.redis).delete(remove_from_queue=True)
