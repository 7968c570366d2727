"""Video records in Redis: one hash per video, moved between states only by compare-and-set scripts, so an API
replica cancelling, a worker finishing and a sweeper retrying can race without a terminal state ever changing.

Hash fields: ``id owner status priority progress stage attempt created_at queued_at started_at completed_at
expires_at worker webhook_url``
(plain strings; times are unix seconds) and ``params metadata error backends timings memory`` (JSON).
An empty string means "not set".
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from core.keys import Keys
from core.video import VideoStatus

JSON_FIELDS = ("params", "metadata", "error", "backends", "timings", "memory")
INT_FIELDS = ("progress", "attempt")
FLOAT_FIELDS = ("created_at", "queued_at", "started_at", "completed_at", "expires_at")
OPTIONAL_FIELDS = (
    "stage",
    "worker",
    "webhook_url",
    "error",
    "backends",
    "timings",
    "memory",
    "metadata",
    "queued_at",
    "started_at",
    "completed_at",
    "expires_at",
)

# KEYS: video hash, running set, expiry zset, queued set, heartbeat key. ARGV: id, allowed statuses (comma list),
# expected attempt ('' any), new status, expires_at ('' none), heartbeat TTL in ms ('' none), then field/value
# pairs. Keeps the running/queued sets and the expiry index in step. Returns 1 done, 0 refused, -1 no such video.
_TRANSITION = """
local cur = redis.call('HMGET', KEYS[1], 'status', 'attempt')
if not cur[1] then return -1 end
if ARGV[3] ~= '' and cur[2] ~= ARGV[3] then return 0 end
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == cur[1] then allowed = true end
end
if not allowed then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[4], unpack(ARGV, 7))
if ARGV[4] == 'in_progress' then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
if ARGV[4] == 'queued' then
  redis.call('SADD', KEYS[4], ARGV[1])
else
  redis.call('SREM', KEYS[4], ARGV[1])
end
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1]) end
if ARGV[6] ~= '' then redis.call('SET', KEYS[5], '1', 'PX', ARGV[6]) end
return 1
"""

# KEYS: video hash. ARGV: attempt, progress (0-100), stage. Writes only while this attempt is in progress;
# progress never goes down. Returns the status ('' when the record is gone, 'superseded' for another attempt).
_PROGRESS = """
local cur = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'progress')
if not cur[1] then return '' end
if cur[2] ~= ARGV[1] then return 'superseded' end
if cur[1] ~= 'in_progress' then return cur[1] end
if tonumber(ARGV[2]) > (tonumber(cur[3]) or 0) then redis.call('HSET', KEYS[1], 'progress', ARGV[2]) end
redis.call('HSET', KEYS[1], 'stage', ARGV[3])
return 'in_progress'
"""


def _encode(fields: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in fields.items():
        if name in JSON_FIELDS:
            out[name] = "" if value is None else json.dumps(value, separators=(",", ":"))
        else:
            out[name] = "" if value is None else str(value)
    return out


def decode_record(raw: Mapping[bytes, bytes]) -> dict[str, Any]:
    """A Redis hash (bytes) -> a record dict with JSON, int and float fields parsed; empty or unset optional
    fields are None."""
    record: dict[str, Any] = dict.fromkeys(OPTIONAL_FIELDS)
    for key, value in raw.items():
        name, text = key.decode(), value.decode()
        if text == "":
            record[name] = None
        elif name in JSON_FIELDS:
            record[name] = json.loads(text)
        elif name in INT_FIELDS:
            record[name] = int(text)
        elif name in FLOAT_FIELDS:
            record[name] = float(text)
        else:
            record[name] = text
    return record


class VideoRecords:
    """Reads and state changes of video records. Every method is one or two Redis round trips."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._transition = client.register_script(_TRANSITION)
        self._progress = client.register_script(_PROGRESS)

    def create(self, record: Mapping[str, Any], pipeline: redis.client.Pipeline | None = None) -> None:
        """Store a new queued record and index it for its owner's listing; with ``pipeline`` the writes join
        it (the caller executes it, e.g. in one MULTI with the RQ enqueue)."""
        pipe = pipeline if pipeline is not None else self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.video(record["id"]), mapping=_encode(record))
        pipe.sadd(self.keys.queued, record["id"])
        pipe.zadd(self.keys.index(record["owner"]), {record["id"]: int(record["created_at"] * 1e6)})
        if pipeline is None:
            pipe.execute()

    def get(self, video_id: str) -> dict[str, Any] | None:
        raw = self.redis.hgetall(self.keys.video(video_id))
        return decode_record(raw) if raw else None

    def get_many(self, video_ids: Iterable[str]) -> list[dict[str, Any] | None]:
        pipe = self.redis.pipeline(transaction=False)
        for video_id in video_ids:
            pipe.hgetall(self.keys.video(video_id))
        return [decode_record(raw) if raw else None for raw in pipe.execute()]

    def transition(
        self,
        video_id: str,
        allowed: Iterable[VideoStatus],
        new_status: VideoStatus,
        fields: Mapping[str, Any] | None = None,
        attempt: int | None = None,
        expires_at: float | None = None,
        heartbeat_s: float | None = None,
    ) -> int:
        """Move ``video_id`` to ``new_status`` if it is in one of ``allowed`` (and, if given, on ``attempt``),
        writing ``fields`` in the same step (and, with ``heartbeat_s``, its first heartbeat, so a started job is
        never without one). Returns 1 when done, 0 when refused, -1 when there is no record."""
        args: list[str] = [
            video_id,
            ",".join(s.value for s in allowed),
            "" if attempt is None else str(attempt),
            new_status.value,
            "" if expires_at is None else repr(expires_at),
            "" if heartbeat_s is None else str(max(1, int(heartbeat_s * 1000))),
        ]
        for name, value in _encode(fields or {}).items():
            args += [name, value]
        keys = [
            self.keys.video(video_id),
            self.keys.running,
            self.keys.expiry,
            self.keys.queued,
            self.keys.heartbeat(video_id),
        ]
        return int(self._transition(keys=keys, args=args))

    def report_progress(self, video_id: str, attempt: int, progress: int, stage: str) -> str:
        """Write progress for a running attempt; returns the video's status ('' if the record is gone,
        'superseded' if another attempt owns it now)."""
        status = self._progress(keys=[self.keys.video(video_id)], args=[attempt, progress, stage])
        return status.decode() if isinstance(status, bytes) else str(status or "")

    def status_of(self, video_id: str) -> tuple[str, int]:
        """(status, attempt); ('', 0) when the record is gone."""
        status, attempt = self.redis.hmget(self.keys.video(video_id), ["status", "attempt"])
        return (status or b"").decode(), int(attempt or 0)

    def set_fields(self, video_id: str, fields: Mapping[str, Any]) -> None:
        self.redis.hset(self.keys.video(video_id), mapping=_encode(fields))

    def page(
        self, owner: str, limit: int, after: str | None = None, status: VideoStatus | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """An owner's videos newest first: up to ``limit`` records after the id ``after`` (a cursor), filtered
        by ``status``. Returns (records, has_more). ``after`` that is not in the listing raises ``KeyError``."""
        index = self.keys.index(owner)
        start = 0
        if after is not None:
            rank = self.redis.zrevrank(index, after)
            if rank is None:
                raise KeyError(after)
            start = rank + 1
        found: list[dict[str, Any]] = []
        chunk = max(limit * 2, 50)
        while True:
            ids = [i.decode() for i in self.redis.zrevrange(index, start, start + chunk - 1)]
            for record in self.get_many(ids):
                if record is None or (status is not None and record["status"] != status.value):
                    continue
                if len(found) == limit:
                    return found, True
                found.append(record)
            if len(ids) < chunk:
                return found, False
            start += len(ids)

    def delete(self, record: Mapping[str, Any]) -> None:
        """Remove a record and every index entry of it."""
        video_id = record["id"]
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.keys.video(video_id), self.keys.heartbeat(video_id))
        pipe.zrem(self.keys.index(record["owner"]), video_id)
        pipe.zrem(self.keys.expiry, video_id)
        pipe.srem(self.keys.running, video_id)
        pipe.srem(self.keys.queued, video_id)
        pipe.execute()

    def running_ids(self) -> list[str]:
        return [i.decode() for i in self.redis.smembers(self.keys.running)]

    def queued_ids(self) -> list[str]:
        return [i.decode() for i in self.redis.smembers(self.keys.queued)]

    def expired_ids(self, now: float | None = None, limit: int = 100) -> list[str]:
        now = time.time() if now is None else now
        return [i.decode() for i in self.redis.zrangebyscore(self.keys.expiry, 0, now, start=0, num=limit)]

    def claim_expired(self, video_id: str) -> bool:
        """True for exactly one of several sweepers racing to remove ``video_id``."""
        return bool(self.redis.zrem(self.keys.expiry, video_id))
