"""Background sweeps any process may run (API replicas and workers all do): requeue or fail jobs whose worker died,
requeue queued videos whose job went missing, remove expired videos, send due webhooks. Every step claims its work
atomically in Redis, so running the loop in many processes at once is safe.

Bound on noticing a dead worker: a running job's heartbeat key lives ``heartbeat_ttl_s`` and is refreshed every
third of that; the sweep runs every ``maintenance_interval_s``. A SIGKILLed worker's job is therefore requeued (or
failed with ``worker_lost`` after ``max_attempts`` runs) within ``heartbeat_ttl_s + maintenance_interval_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.connection import REDIS_DOWN_ERRORS
from core.context import Context
from core.errors import StorageError, WorkerLostError
from core.lifecycle import finish
from core.records import requeue_fields
from core.video import VideoStatus
from core.webhooks import WebhookSender

logger = logging.getLogger(__name__)

EXPIRY_RETRY_S = 60.0  # a video whose files could not be deleted is tried again after this


def sweep_lost(ctx: Context) -> int:
    """Requeue (or fail) running videos whose heartbeat expired; returns how many were handled."""
    handled = 0
    for video_id in ctx.records.running_ids():
        if ctx.redis.exists(ctx.keys.heartbeat(video_id)):
            continue
        record = ctx.records.get(video_id)
        if record is None or record.status is not VideoStatus.IN_PROGRESS:
            ctx.redis.srem(ctx.keys.running, video_id)
            continue
        attempt = record.attempt
        if attempt < ctx.settings.max_attempts:
            reset = {**requeue_fields(time.time()), "attempt": attempt + 1}
            if (
                ctx.records.transition(
                    video_id, [VideoStatus.IN_PROGRESS], VideoStatus.QUEUED, reset, attempt=attempt
                )
                == 1
            ):
                ctx.queue.enqueue(video_id, attempt + 1, record.priority, at_front=True)
                logger.warning(
                    "video %s: worker %s lost; requeued as attempt %d", video_id, record.worker, attempt + 1
                )
                handled += 1
        else:
            error = WorkerLostError(
                f"the worker running this video stopped responding (attempt {attempt} of"
                f" {ctx.settings.max_attempts})"
            )
            if finish(
                ctx, video_id, VideoStatus.FAILED, [VideoStatus.IN_PROGRESS], attempt=attempt, error=error
            ):
                logger.warning("video %s: worker %s lost; failed", video_id, record.worker)
                handled += 1
    return handled


def sweep_orphans(ctx: Context, now: float | None = None) -> int:
    """Requeue queued videos whose RQ job is not waiting in the queue (the API died between storing the record
    and enqueueing, or a worker died between taking the job and starting it). Waits ``heartbeat_ttl_s`` after a
    video was queued, so a job a worker is just starting is not touched; if it is requeued anyway, the
    compare-and-set start lets only one run happen. Returns how many were requeued."""
    now = time.time() if now is None else now
    grace = ctx.settings.heartbeat_ttl_s
    requeued = 0
    queued = ctx.records.queued_ids()
    # One read of the queues first: a video whose job waits (the usual case, thousands of them under load) needs
    # no record read; the rest are checked one by one, on their attempt. (A job of another attempt still waiting
    # defers the check until it has left the queue: the worker skips it, and the next sweep requeues.)
    waiting = ctx.queue.waiting_video_ids() if queued else set()
    for video_id in queued:
        if video_id in waiting:
            continue
        record = ctx.records.get(video_id)
        if record is None or record.status is not VideoStatus.QUEUED:
            ctx.redis.srem(ctx.keys.queued, video_id)
            continue
        attempt = record.attempt
        if now - (record.queued_at or record.created_at) < grace:
            continue
        if ctx.queue.position(video_id, attempt, record.priority) is not None:
            continue
        claim = ctx.keys.orphan_claim(video_id, attempt)
        if not ctx.redis.set(claim, "1", nx=True, px=max(1, int(grace * 1000))):
            continue
        ctx.queue.enqueue(video_id, attempt, record.priority, at_front=True)
        ctx.records.set_fields(video_id, {"queued_at": now})
        logger.warning(
            "video %s: queued but its job was not in the queue; requeued attempt %d", video_id, attempt
        )
        requeued += 1
    return requeued


def sweep_expired(ctx: Context, now: float | None = None) -> int:
    """Delete the files and records of videos past ``expires_at``; returns how many were removed."""
    removed = 0
    for video_id in ctx.records.expired_ids(now):
        if not ctx.records.claim_expired(video_id):
            continue
        try:
            ctx.storage.delete_all(video_id)
        except StorageError as exc:
            logger.warning(
                "video %s expired but its files could not be deleted, retrying later: %s", video_id, exc
            )
            ctx.redis.zadd(ctx.keys.expiry, {video_id: time.time() + EXPIRY_RETRY_S})
            continue
        record = ctx.records.get(video_id)
        if record is not None:
            ctx.records.delete(record)
        removed += 1
    return removed


class MaintenanceLoop(threading.Thread):
    """Runs ``task(ctx)`` every ``interval_s`` on a daemon thread until ``stop()``; Redis outages are logged
    and waited out."""

    def __init__(self, name: str, ctx: Context, task: Callable[[Context], object], interval_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self.ctx = ctx
        self.task = task
        self.interval_s = interval_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            try:
                self.task(self.ctx)
            except REDIS_DOWN_ERRORS as exc:
                logger.debug("%s: Redis unavailable: %s", self.name, exc)
            except Exception:
                logger.exception("%s failed", self.name)

    def stop(self) -> None:
        self._stop_event.set()


def start_maintenance(ctx: Context) -> list[MaintenanceLoop]:
    """Start the sweeps and the webhook sender on their own threads (a slow webhook never delays a sweep; the
    sender sends several at once, so one slow receiver never delays the others' webhooks)."""
    sender = WebhookSender(ctx.outbox)

    def sweeps(c: Context) -> None:
        sweep_lost(c)
        sweep_orphans(c)
        sweep_expired(c)

    def webhooks(c: Context) -> None:
        while sender.pump():
            pass

    interval = ctx.settings.maintenance_interval_s
    loops = [
        MaintenanceLoop("videogen-sweeps", ctx, sweeps, interval),
        MaintenanceLoop("videogen-webhooks", ctx, webhooks, min(interval, 0.5)),
    ]
    for loop in loops:
        loop.start()
    return loops
