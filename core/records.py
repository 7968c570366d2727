"""Video records in Redis: one hash per video, moved between states only by compare-and-set scripts, so an API
replica cancelling, a worker finishing and a sweeper retrying can race without a terminal state ever changing.

A record is a ``VideoRecord`` (its fields say what each holds); in Redis it is a hash with one field per
attribute: scalars as text (times in unix seconds), models, dicts and lists as JSON, ``None`` as the empty
string. Every read and write goes through the model, so a malformed value never reaches Redis or a reader.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, get_args, get_origin

import redis
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from core.keys import Keys
from core.video import Video, VideoState, VideoStatus, links_for, seconds_of

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


class VideoRecord(VideoState):
    """The stored state of one video (the shared fields of ``VideoState`` plus what only the server sees).
    Validated on every read and write; unknown hash fields (written by a newer release) are ignored on read."""

    model_config = ConfigDict(extra="ignore")

    owner: str
    created_at: float = Field(description="unix seconds")
    queued_at: float | None = Field(None, description="unix seconds: last (re)queued")
    started_at: float | None = None
    completed_at: float | None = None
    expires_at: float | None = None
    worker: str | None = Field(None, description="the worker running (or that ran) the current attempt")

    def to_hash(self) -> dict[str, str]:
        """The Redis hash of this record (every field; ``None`` as the empty string)."""
        return {name: _text(name, value) for name, value in self.model_dump(mode="json").items()}

    @classmethod
    def from_hash(cls, raw: Mapping[bytes, bytes]) -> VideoRecord:
        """A Redis hash (bytes) -> the record; raises ``ValidationError`` for a hash that is not one."""
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name, text = key.decode(), value.decode()
            if text == "":
                continue
            values[name] = json.loads(text) if name in _JSON_FIELDS else text
        return cls.model_validate(values)

    def to_video(self, queue_position: int | None = None) -> Video:
        """The public object of this record (``queue_position`` only counts while it is queued)."""
        queued = self.status is VideoStatus.QUEUED
        return Video(
            **self.model_dump(include=set(VideoState.model_fields)),
            created_at=int(self.created_at),
            started_at=_seconds(self.started_at),
            completed_at=_seconds(self.completed_at),
            expires_at=_seconds(self.expires_at),
            prompt=self.params.prompt,
            seconds=seconds_of(self.params, self.source),
            size=self.params.size,
            remixed_from_video_id=self.source.video_id if self.source is not None else None,
            queue_position=queue_position if queued else None,
            links=links_for(self.id) if self.status is VideoStatus.COMPLETED else None,
        )


def requeue_fields(queued_at: float) -> dict[str, Any]:
    """The fields a video's return to the queue rewrites: the run's traces cleared, ``queued_at`` now (an
    interrupted job handed back and a lost worker's job requeued alike)."""
    return {
        "progress": 0,
        "stage": None,
        "started_at": None,
        "worker": None,
        "backends": None,
        "timings": None,
        "memory": None,
        "queued_at": queued_at,
    }


def _seconds(value: float | None) -> int | None:
    return None if value is None else int(value)


def _is_structured(annotation: Any) -> bool:
    """Whether a field holds a model, dict or list (stored as JSON) rather than a scalar (stored as text)."""
    for arg in (annotation, *get_args(annotation)):
        origin = get_origin(arg) or arg
        if isinstance(origin, type) and issubclass(origin, BaseModel | dict | list):
            return True
    return False


_JSON_FIELDS = frozenset(name for name, f in VideoRecord.model_fields.items() if _is_structured(f.annotation))
_FIELD_TYPES = {name: TypeAdapter(f.annotation) for name, f in VideoRecord.model_fields.items()}


def encode_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """Record fields -> hash values, each checked against ``VideoRecord``'s type for it (``ValueError`` for a
    name the record does not have or a value of the wrong type). ``None`` clears a field: it reads back as
    the field's default."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        adapter = _FIELD_TYPES.get(name)
        if adapter is None:
            raise ValueError(f"a video record has no field {name!r}")
        if value is None:
            if VideoRecord.model_fields[name].is_required():
                raise ValueError(f"the record field {name!r} cannot be cleared")
            out[name] = ""
            continue
        out[name] = _text(name, adapter.dump_python(adapter.validate_python(value), mode="json"))
    return out


def _text(name: str, plain: Any) -> str:
    """One field's JSON-mode value as its hash text."""
    if plain is None:
        return ""
    return json.dumps(plain, separators=(",", ":")) if name in _JSON_FIELDS else str(plain)


class VideoRecords:
    """Reads and state changes of video records. Every method is one or two Redis round trips."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._transition = client.register_script(_TRANSITION)
        self._progress = client.register_script(_PROGRESS)

    def create(self, record: VideoRecord, pipeline: redis.client.Pipeline | None = None) -> None:
        """Store a new queued record and index it for its owner's listing; with ``pipeline`` the writes join
        it (the caller executes it, e.g. in one MULTI with the RQ enqueue)."""
        pipe = pipeline if pipeline is not None else self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.video(record.id), mapping=record.to_hash())
        pipe.sadd(self.keys.queued, record.id)
        pipe.zadd(self.keys.index(record.owner), {record.id: int(record.created_at * 1e6)})
        if pipeline is None:
            pipe.execute()

    def get(self, video_id: str) -> VideoRecord | None:
        raw = self.redis.hgetall(self.keys.video(video_id))
        return VideoRecord.from_hash(raw) if raw else None

    def get_many(self, video_ids: Iterable[str]) -> list[VideoRecord | None]:
        pipe = self.redis.pipeline(transaction=False)
        for video_id in video_ids:
            pipe.hgetall(self.keys.video(video_id))
        return [VideoRecord.from_hash(raw) if raw else None for raw in pipe.execute()]

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
        writing ``fields`` (record field -> value, checked by ``encode_fields``) in the same step (and, with ``heartbeat_s``, its first heartbeat, so a started job is
        never without one). Returns 1 when done, 0 when refused, -1 when there is no record."""
        args: list[str] = [
            video_id,
            ",".join(s.value for s in allowed),
            "" if attempt is None else str(attempt),
            new_status.value,
            "" if expires_at is None else repr(expires_at),
            "" if heartbeat_s is None else str(max(1, int(heartbeat_s * 1000))),
        ]
        for name, value in encode_fields(fields or {}).items():
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
        self.redis.hset(self.keys.video(video_id), mapping=encode_fields(fields))

    def page(
        self,
        owner: str,
        limit: int,
        after: str | None = None,
        status: VideoStatus | None = None,
        ascending: bool = False,
    ) -> tuple[list[VideoRecord], bool]:
        """An owner's videos, newest first (oldest first with ``ascending``): up to ``limit`` records after the
        id ``after`` (a cursor), filtered by ``status``. Returns (records, has_more). ``after`` that is not in
        the listing raises ``KeyError``."""
        index = self.keys.index(owner)
        start = 0
        if after is not None:
            rank = self.redis.zrank(index, after) if ascending else self.redis.zrevrank(index, after)
            if rank is None:
                raise KeyError(after)
            start = rank + 1
        found: list[VideoRecord] = []
        chunk = max(limit * 2, 50)
        while True:
            ids = [i.decode() for i in self.redis.zrange(index, start, start + chunk - 1, desc=not ascending)]
            for record in self.get_many(ids):
                if record is None or (status is not None and record.status is not status):
                    continue
                if len(found) == limit:
                    return found, True
                found.append(record)
            if len(ids) < chunk:
                return found, False
            start += len(ids)

    def delete(self, record: VideoRecord) -> None:
        """Remove a record and every index entry of it."""
        video_id = record.id
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.keys.video(video_id), self.keys.heartbeat(video_id))
        pipe.zrem(self.keys.index(record.owner), video_id)
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
