"""Every Redis key and queue name the project uses, in one place. RQ keeps its own keys under ``rq:``."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

VIDEO_ID_PATTERN = re.compile(r"^vid_[0-9a-f]{24}$")


def new_video_id() -> str:
    """A fresh, unguessable video id (``vid_`` + 24 hex digits); also the storage folder name."""
    return f"vid_{secrets.token_hex(12)}"


def is_video_id(value: str) -> bool:
    return VIDEO_ID_PATTERN.match(value) is not None


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix, so several deployments (or test runs) can share a Redis."""

    prefix: str = "videogen"

    def video(self, video_id: str) -> str:
        """Hash: the video record (see ``core.records``)."""
        return f"{self.prefix}:video:{video_id}"

    def index(self, owner: str) -> str:
        """Sorted set: an owner's video ids scored by creation time (microseconds), for listing."""
        return f"{self.prefix}:index:{owner}"

    @property
    def running(self) -> str:
        """Set: ids of videos in progress, scanned by the lost-job sweeper."""
        return f"{self.prefix}:running"

    @property
    def queued(self) -> str:
        """Set: ids of queued videos, scanned by the orphan sweeper (a queued video whose job left the queue)."""
        return f"{self.prefix}:queued"

    def orphan_claim(self, video_id: str, attempt: int) -> str:
        """String with a TTL: one sweeper's claim to requeue an orphaned job."""
        return f"{self.prefix}:orphan:{video_id}:{attempt}"

    def heartbeat(self, video_id: str) -> str:
        """String with a short TTL, refreshed by the worker running the video; gone = worker lost."""
        return f"{self.prefix}:heartbeat:{video_id}"

    @property
    def expiry(self) -> str:
        """Sorted set: finished video ids scored by their expiry time (unix seconds), for the TTL sweeper."""
        return f"{self.prefix}:expiry"

    def idempotency(self, owner: str, key_digest: str) -> str:
        return f"{self.prefix}:idem:{owner}:{key_digest}"

    def rate(self, owner: str, window: int) -> str:
        return f"{self.prefix}:rate:{owner}:{window}"

    def worker(self, name: str) -> str:
        """String with a TTL: a live worker and what its model can do (JSON ``Capabilities``)."""
        return f"{self.prefix}:worker:{name}"

    @property
    def worker_pattern(self) -> str:
        return f"{self.prefix}:worker:*"

    @property
    def workers(self) -> str:
        """Set: the names of workers that announced themselves; a name whose ``worker`` key expired is dropped
        by the next ``live_workers`` read."""
        return f"{self.prefix}:workers"

    @property
    def webhooks_due(self) -> str:
        """Sorted set: webhook delivery ids scored by when they are due (unix seconds)."""
        return f"{self.prefix}:webhooks:due"

    def webhook(self, delivery_id: str) -> str:
        """Hash: one webhook delivery (url, body, attempts)."""
        return f"{self.prefix}:webhook:{delivery_id}"

    @property
    def stage_seconds(self) -> str:
        """Hash: histogram of stage durations, fields ``stage|le`` -> count, ``stage|sum``, ``stage|count``."""
        return f"{self.prefix}:metrics:stage_seconds"

    @property
    def stage_memory(self) -> str:
        """Hash: histogram of peak memory per stage in bytes, fields as in ``stage_seconds``."""
        return f"{self.prefix}:metrics:stage_memory"

    @property
    def finished(self) -> str:
        """Hash: terminal outcomes, fields ``completed``, ``cancelled``, ``failed:<code>`` -> count."""
        return f"{self.prefix}:metrics:finished"
