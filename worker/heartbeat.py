"""Liveness signals a worker writes to Redis from side threads, so a long denoising step never lets them lapse:
a per-job heartbeat (gone = the job's worker died; see ``core.maintenance.sweep_lost``) and the worker's presence
record (what ``/readyz`` counts and where the API reads the model's capabilities)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from types import TracebackType

from core.connection import REDIS_DOWN_ERRORS
from core.context import Context
from core.lifecycle import publish_worker
from core.logging import in_current_context
from core.params import Capabilities
from core.video import PRIORITY_ORDER, Priority

logger = logging.getLogger(__name__)


class JobHeartbeat:
    """``with JobHeartbeat(ctx, video_id):`` keeps ``heartbeat:<video id>`` alive (TTL ``heartbeat_ttl_s``,
    refreshed every third of it) and deletes it on exit. The first beat is written before the block runs."""

    def __init__(self, ctx: Context, video_id: str) -> None:
        self.ctx = ctx
        self.key = ctx.keys.heartbeat(video_id)
        self.ttl_ms = max(1, int(ctx.settings.heartbeat_ttl_s * 1000))
        self._stop = threading.Event()
        self.video_id = video_id

    def beat(self) -> None:
        self.ctx.redis.set(self.key, "1", px=self.ttl_ms)

    def _run(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                self.beat()
            except REDIS_DOWN_ERRORS as exc:
                logger.warning("heartbeat %s not written: %s", self.key, exc)

    def __enter__(self) -> JobHeartbeat:
        self.beat()
        # Its log lines (Redis trouble) carry the job's ids like the job's own.
        self._thread = threading.Thread(
            target=in_current_context(self._run), name=f"heartbeat-{self.video_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(*REDIS_DOWN_ERRORS):  # else it expires on its own
            self.ctx.redis.delete(self.key)


class WorkerPresence(threading.Thread):
    """Publishes this worker and its model's capabilities every ``period_s``, valid for three periods."""

    def __init__(
        self,
        ctx: Context,
        name: str,
        capabilities: Capabilities,
        priorities: Sequence[Priority] = PRIORITY_ORDER,
        period_s: float = 2.0,
    ) -> None:
        super().__init__(name="videogen-presence", daemon=True)
        self.ctx = ctx
        self.worker_name = name
        self.capabilities = capabilities
        self.priorities = list(priorities)
        self.period_s = period_s
        self.busy: str | None = None
        self._stop_event = threading.Event()

    def publish(self) -> None:
        publish_worker(
            self.ctx, self.worker_name, self.capabilities, self.busy, 3 * self.period_s, self.priorities
        )

    def run(self) -> None:
        while True:
            try:
                self.publish()
            except REDIS_DOWN_ERRORS as exc:
                logger.warning("worker presence not written: %s", exc)
            if self._stop_event.wait(self.period_s):
                break

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        with contextlib.suppress(*REDIS_DOWN_ERRORS):
            self.ctx.redis.delete(self.ctx.keys.worker(self.worker_name))
