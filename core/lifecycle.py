"""State changes that carry side effects, shared by the API (cancel), the worker (finish) and the sweeper (lost
jobs): a terminal transition also sets the expiry, counts the outcome and schedules the webhook; and the worker
presence records through which the API learns what the loaded models can do."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.context import Context
from core.errors import VideoGenError
from core.metrics import count_finished
from core.params import Capabilities
from core.records import VideoRecord
from core.video import DEFAULT_WEBHOOK_EVENTS, PRIORITY_ORDER, Priority, VideoStatus, WebhookEvent
from core.webhooks import webhook_body

logger = logging.getLogger(__name__)


def finish(
    ctx: Context,
    video_id: str,
    status: VideoStatus,
    allowed: Iterable[VideoStatus],
    fields: Mapping[str, Any] | None = None,
    attempt: int | None = None,
    error: VideoGenError | None = None,
) -> bool:
    """Move a video to the terminal ``status`` if it is in one of ``allowed`` (and on ``attempt``, if given).
    Returns False when another actor changed it first; exactly one caller gets True and does the side effects."""
    now = time.time()
    expires_at = now + ctx.settings.result_ttl_s
    values: dict[str, Any] = {"completed_at": now, "expires_at": expires_at, **(fields or {})}
    if error is not None:
        values["error"] = {"code": error.code, "message": str(error)}
    done = ctx.records.transition(video_id, allowed, status, values, attempt=attempt, expires_at=expires_at)
    if done != 1:
        return False
    count_finished(ctx.redis, ctx.keys, status.value, error.code if error else None)
    notify(ctx, video_id, WebhookEvent.COMPLETED)
    return True


def notify(ctx: Context, video_id: str, event: WebhookEvent) -> None:
    """Schedule the webhook of ``video_id`` for ``event`` if it has one that asked for it (the terminal events
    unless the request's ``webhook_events`` said otherwise); its ``type`` is ``video.<status>``."""
    record = ctx.records.get(video_id)
    if record is not None:
        notify_record(ctx, record, event)


def notify_record(ctx: Context, record: VideoRecord, event: WebhookEvent) -> None:
    """``notify`` for a caller that holds the record as it stands (no second read)."""
    if record.webhook_url is None or event not in (record.webhook_events or DEFAULT_WEBHOOK_EVENTS):
        return
    msg_id = ctx.outbox.schedule(record.webhook_url, webhook_body(record.to_video()), record.id)
    logger.info("video %s %s: webhook %s scheduled", record.id, record.status, msg_id)


def publish_worker(
    ctx: Context,
    name: str,
    capabilities: Capabilities,
    busy: str | None,
    ttl_s: float,
    priorities: Sequence[Priority] = PRIORITY_ORDER,
) -> None:
    """Announce a live worker (its model's capabilities and the priorities it serves) for ``ttl_s`` seconds."""
    doc = {
        "name": name,
        "busy": busy,
        "seen_at": time.time(),
        "capabilities": capabilities.model_dump(),
        "priorities": [str(p) for p in priorities],
    }
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.set(ctx.keys.worker(name), json.dumps(doc), px=max(1, int(ttl_s * 1000)))
    pipe.sadd(ctx.keys.workers, name)
    pipe.execute()


# The live presences of the registry's names in one round trip (no SCAN over the keyspace, whose cost grew with the
# stored videos); names whose presence expired leave the registry here. ARGV[1]: the presence key's prefix.
_LIVE_WORKERS = """
local docs = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local doc = redis.call('GET', ARGV[1] .. name)
  if doc then table.insert(docs, doc) else redis.call('SREM', KEYS[1], name) end
end
return docs
"""


def live_workers(ctx: Context) -> list[dict[str, Any]]:
    """Workers whose presence has not expired, each ``{name, busy, seen_at, capabilities, priorities}``."""
    docs = ctx.redis.eval(_LIVE_WORKERS, 1, ctx.keys.workers, ctx.keys.worker(""))
    return [json.loads(doc) for doc in docs]


def serving_counts(workers: Iterable[Mapping[str, Any]]) -> dict[Priority, int]:
    """How many of ``workers`` (``live_workers`` entries) serve each priority."""
    counts = dict.fromkeys(PRIORITY_ORDER, 0)
    for worker in workers:
        for priority in worker.get("priorities", PRIORITY_ORDER):
            counts[Priority(priority)] += 1
    return counts


def current_capabilities(ctx: Context) -> Capabilities | None:
    """What the live workers' model can do (the most recently seen worker's view), or None without workers."""
    workers = sorted(live_workers(ctx), key=lambda w: w["seen_at"], reverse=True)
    return Capabilities.model_validate(workers[0]["capabilities"]) if workers else None
