"""The RQ job queues: one RQ job per run of a video (``<video id>-<attempt>``), calling
``worker.jobs.generate_video(video_id, attempt)`` by name so the API never imports the worker (or torch).

One RQ queue per priority: ``normal`` is ``settings.queue_name`` itself (a deployment that never asks for another
priority has exactly the one queue it configured), ``high`` and ``low`` are ``<queue_name>.high`` and
``<queue_name>.low``. A worker listens on the ones it serves in priority order, and RQ takes the first job of the
first non-empty queue, so priorities are strict."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from core.settings import Settings
from core.video import PRIORITY_ORDER, Priority

# The job function, by dotted path so the API never imports the worker (or torch); tests/unit/worker/test_wiring.py
# checks that it resolves to ``worker.jobs.generate_video``.
JOB_FUNCTION = "worker.jobs.generate_video"
FAILED_JOB_TTL_S = 24 * 3600  # RQ's own failure records, for debugging; our record carries the error


def job_id(video_id: str, attempt: int) -> str:
    return f"{video_id}-{attempt}"


def queue_name(base: str, priority: Priority) -> str:
    """The RQ queue name of ``priority`` in a deployment whose queue is ``base``."""
    return base if priority is Priority.NORMAL else f"{base}.{priority}"


def higher_than(priority: Priority) -> tuple[Priority, ...]:
    """The priorities whose jobs run before ``priority``'s."""
    return PRIORITY_ORDER[: PRIORITY_ORDER.index(priority)]


class JobQueue:
    """Enqueue, inspect and withdraw video jobs, each in the queue of its priority."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.queues = {
            p: Queue(queue_name(settings.queue_name, p), connection=client) for p in PRIORITY_ORDER
        }

    def serving(self, priorities: Iterable[Priority]) -> list[Queue]:
        """The RQ queues of ``priorities``, in the order given (a worker's listening order)."""
        return [self.queues[p] for p in priorities]

    def enqueue(
        self,
        video_id: str,
        attempt: int,
        priority: Priority,
        at_front: bool = False,
        pipeline: redis.client.Pipeline | None = None,
    ) -> str:
        """Queue a run of ``video_id``; a retry goes to the front so it does not wait behind newer jobs. With
        ``pipeline`` RQ's writes join it and nothing is sent until the caller executes it."""
        job = self.queues[priority].enqueue_call(
            JOB_FUNCTION,
            args=(video_id, attempt),
            job_id=job_id(video_id, attempt),
            timeout=self.settings.job_timeout_s,
            result_ttl=0,
            failure_ttl=FAILED_JOB_TTL_S,
            description=f"generate {video_id} (attempt {attempt})",  # RQ logs the queue (priority) too
            at_front=at_front,
            pipeline=pipeline,
        )
        return job.id

    def depths(self) -> dict[Priority, int]:
        """Jobs waiting, per priority (one round trip)."""
        pipe = self.redis.pipeline(transaction=False)
        for queue in self.queues.values():
            pipe.llen(queue.key)
        return {p: int(n) for p, n in zip(self.queues, pipe.execute(), strict=True)}

    def depth(self) -> int:
        """Jobs waiting, all priorities together."""
        return sum(self.depths().values())

    def ahead_keys(self, priority: Priority) -> list[str]:
        """The RQ queue keys whose lengths add up to the jobs a new job of ``priority`` waits behind (every
        waiting job of that priority or higher), ``priority``'s own last: a caller reads their ``LLEN`` in a
        pipeline it sends anyway (the submit path) instead of a round trip of its own."""
        return [self.queues[p].key for p in (*higher_than(priority), priority)]

    def position(self, video_id: str, attempt: int, priority: Priority) -> int | None:
        """How many jobs run before this one as the queues stand now (0 = next): every job waiting at a higher
        priority, then those ahead of it in its own queue. None when the job is not waiting. Jobs submitted
        later at a higher priority still overtake it."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpos(self.queues[priority].key, job_id(video_id, attempt))
        for p in higher_than(priority):
            pipe.llen(self.queues[p].key)
        own, *higher = pipe.execute()
        return None if own is None else int(own) + sum(int(n) for n in higher)

    def waiting_video_ids(self) -> set[str]:
        """The videos with a job (of any attempt) waiting in any priority's queue now, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for queue in self.queues.values():
            pipe.lrange(queue.key, 0, -1)
        return {jid.decode().rsplit("-", 1)[0] for ids in pipe.execute() for jid in ids}

    def withdraw(self, video_id: str, attempt: int, priority: Priority) -> None:
        """Take a waiting job out of the queue and drop RQ's record of it (no error if it already left)."""
        jid = job_id(video_id, attempt)
        self.queues[priority].remove(jid)
        with contextlib.suppress(NoSuchJobError):
            Job.fetch(jid, connection=self.redis).delete(remove_from_queue=True)
