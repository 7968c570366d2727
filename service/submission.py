"""``POST /videos`` behind the route: read a JSON or multipart body, check it, honour ``Idempotency-Key``, apply
backpressure, store the reference image, create the record and enqueue the job."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import weakref
from typing import Any, TypeVar

import redis.asyncio
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from core.connection import api_async_redis
from core.context import Context
from core.errors import (
    ConflictError,
    InvalidInputError,
    InvalidWebhookURLError,
    MalformedRequestError,
    PermissionDeniedError,
    QueueFullError,
    UnsupportedMediaTypeError,
)
from core.keys import new_video_id
from core.lifecycle import current_capabilities, notify_record
from core.logging import set_log_fields
from core.params import Capabilities, ImageReference, VideoRequest, check_model, resolve_params
from core.records import VideoRecord
from core.video import INPUT_REFERENCE, SOURCE_UPLOAD, Priority, SourceVideo, VideoStatus, WebhookEvent
from core.webhooks import check_webhook_url
from service.auth import Principal, check_rate_count, count_rate, rate_window
from service.limits import loads_strict
from service.reference import decode_base64_image, normalize_reference

logger = logging.getLogger(__name__)

RequestT = TypeVar("RequestT", bound=BaseModel)

MAX_IDEMPOTENCY_KEY = 255
QUEUE_FULL_RETRY_AFTER_S = 10


class CapabilitiesCache:
    """``current_capabilities`` per context, kept ``ttl_s`` seconds: it reads every live worker's presence, and
    a worker's model changes only when it restarts. "No live worker" is not
    kept, so the first worker's model applies to the very next submit."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[int, tuple[float, Capabilities | None]] = {}

    def cached(self, ctx: Context) -> Capabilities | None:
        """The kept capabilities of ``ctx`` while fresh, without reading Redis; None when ``get`` must read."""
        entry = self._entries.get(id(ctx))
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def get(self, ctx: Context) -> Capabilities | None:
        key = id(ctx)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        capabilities = current_capabilities(ctx)
        if capabilities is None:
            return None
        if entry is None:
            weakref.finalize(ctx, self._entries.pop, key, None)  # an id is reused once its context is gone
        self._entries[key] = (now + self.ttl_s, capabilities)
        return capabilities


CAPABILITIES_TTL_S = 5.0
_CAPABILITIES = CapabilitiesCache(CAPABILITIES_TTL_S)


def validated(model: type[RequestT], payload: dict[str, Any]) -> RequestT:
    """``payload`` as ``model``; ``InvalidInputError`` (422) naming the first few problems otherwise."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInputError(describe(exc)) from exc


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


async def read_submission(request: Request, max_file_bytes: int) -> tuple[VideoRequest, bytes | None]:
    """The request and the raw reference image bytes (if any), from ``application/json`` or a form
    (``multipart/form-data`` or urlencoded: fields as in JSON, ``metadata`` as a JSON string or ``metadata[key]``
    fields, the reference a file or base64)."""
    payload, reference = await read_body(request, max_file_bytes)
    video_request = validated(VideoRequest, payload)
    inline = [video_request.reference_image, _image_url(video_request.input_reference)]
    for image in filter(None, inline):
        if reference is not None:
            raise InvalidInputError("send one reference image (reference_image or input_reference), once")
        reference = decode_base64_image(image)
    return video_request, reference


def _image_url(ref: ImageReference | None) -> str | None:
    """The image of an OpenAI ``input_reference`` object, which must carry it inline."""
    if ref is None:
        return None
    if ref.file_id is not None:
        raise InvalidInputError(
            "input_reference.file_id: this server keeps no uploaded files; upload the image as input_reference"
        )
    if ref.image_url is None:
        raise InvalidInputError("input_reference needs image_url (a data: URL) or an uploaded file")
    if ref.image_url.startswith(("http://", "https://")):
        raise InvalidInputError(
            "input_reference.image_url: this server does not fetch URLs; send a data: URL or upload the file"
        )
    return ref.image_url


# POST /videos: the reference image, as a file
REFERENCE_FIELDS = ("reference_image", "input_reference")
# A form sends a list as the field repeated (or as webhook_events[]).
LIST_FIELDS = ("webhook_events",)


async def read_body(
    request: Request, max_file_bytes: int, file_fields: tuple[str, ...] = REFERENCE_FIELDS
) -> tuple[dict[str, Any], bytes | None]:
    """The fields of a JSON object or form body and the one file a form may upload (under one of
    ``file_fields``), before validation."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type == "application/json":
        payload = loads_strict(await request.body())
        if not isinstance(payload, dict):
            raise InvalidInputError("body must be a JSON object")
        return payload, None
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _read_form(request, max_file_bytes, file_fields)
    raise UnsupportedMediaTypeError(
        f"content type {content_type!r}: send application/json or multipart/form-data (or a urlencoded form)"
    )


async def _read_form(
    request: Request, max_file_bytes: int, file_fields: tuple[str, ...]
) -> tuple[dict[str, Any], bytes | None]:
    try:
        if request.headers.get("content-type", "").lower().startswith("multipart/"):
            parser = StrictMultiPartParser(
                request.headers, request.stream(), max_files=1, max_fields=32, max_part_size=max_file_bytes
            )
            form = await parser.parse()
        else:
            form = await request.form(max_files=1, max_fields=32, max_part_size=max_file_bytes)
    except (MultiPartException, StarletteHTTPException, ValueError, UnicodeDecodeError) as exc:
        message = (
            exc.message
            if isinstance(exc, MultiPartException)
            else exc.detail
            if isinstance(exc, StarletteHTTPException)
            else str(exc)
        )
        raise MalformedRequestError(f"cannot read the multipart form: {message}") from exc
    payload: dict[str, Any] = {}
    upload: bytes | None = None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name not in file_fields:
                raise InvalidInputError(
                    f"unexpected file field {name!r}: only {' or '.join(file_fields)} is a file here"
                )
            if upload is not None:
                raise InvalidInputError(f"send one file ({' or '.join(file_fields)}), once")
            upload = await value.read(max_file_bytes + 1)
            continue
        if name.removesuffix("[]") in LIST_FIELDS:  # repeated (or name[]) fields make a list
            payload.setdefault(name.removesuffix("[]"), []).append(value)
            continue
        outer, inner = _bracketed(name)
        if inner is None:
            if name in payload:
                raise InvalidInputError(f"field {name!r} appears more than once")
            payload[name] = (loads_strict(value) if value else {}) if name == "metadata" else value
            continue
        group = payload.setdefault(outer, {})
        if not isinstance(group, dict) or inner in group:
            raise InvalidInputError(f"field {name!r} appears more than once or beside {outer!r}")
        group[inner] = value
    await form.close()
    return payload, upload


_BRACKETED = re.compile(r"^([A-Za-z_]+)\[([A-Za-z0-9_.-]+)\]$")


def _bracketed(name: str) -> tuple[str, str | None]:
    """``video[id]`` -> ("video", "id"): how the OpenAI SDK (and PHP/Rails forms) send an object's fields."""
    match = _BRACKETED.match(name)
    return (match.group(1), match.group(2)) if match else (name, None)


class StrictMultiPartParser(MultiPartParser):
    """Starlette's multipart parser, except that a text field whose bytes are not valid in the form's charset
    is refused (Starlette falls back to latin-1, which turns invalid UTF-8 into a different prompt)."""

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            try:
                bytes(part.data).decode(self._charset)
            except UnicodeDecodeError as exc:
                raise MultiPartException(f"field {part.field_name!r} is not {self._charset}: {exc}") from exc
        super().on_part_end()


def request_digest(video_request: VideoRequest, reference: bytes | None) -> str:
    """A fingerprint of what was asked, to tell a retry (same body) from a reuse of the key (another body)."""
    body = video_request.model_dump(mode="json", exclude={"reference_image"})
    body["reference_sha256"] = hashlib.sha256(reference).hexdigest() if reference is not None else None
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _claim_idempotency(ctx: Context, redis_key: str, digest: str, video_id: str) -> VideoRecord | None:
    """Reserve an idempotency key for a new video; returns the record of an earlier request with the same key
    instead, or raises ``ConflictError`` for a different body or an earlier request still being processed."""
    claim = json.dumps({"digest": digest, "video_id": video_id})
    if ctx.redis.set(redis_key, claim, nx=True, ex=ctx.settings.result_ttl_s):
        return None
    raw = ctx.redis.get(redis_key)
    earlier = json.loads(raw) if raw else {}
    if earlier.get("digest") != digest:
        raise ConflictError(
            "this Idempotency-Key was used with a different request", code="idempotency_conflict"
        )
    record = ctx.records.get(earlier["video_id"])
    if record is None:
        raise ConflictError(
            "the request first sent with this Idempotency-Key is still being processed or its video was"
            " deleted",
            code="idempotency_in_progress",
        )
    return record


async def submit(
    ctx: Context,
    principal: Principal,
    video_request: VideoRequest,
    reference: bytes | None,
    idempotency_key: str | None,
    source: SourceVideo | None = None,
    source_upload: bytes | None = None,
) -> tuple[VideoRecord, bool, int | None]:
    """Create and enqueue a video; returns (record, replayed, queue position) where ``replayed`` means an
    earlier request with the same ``Idempotency-Key`` and body created it (its position is then None: ask
    ``JobQueue.position``). A remix, edit or extension names its ``source`` (the worker takes its reference image
    from there); an uploaded source video comes as ``source_upload``.

    A plain submit is two Redis round trips on the event loop's client: the rate-limit count with the queue
    depths, then one MULTI with the record, RQ's job and the lengths that give the new job's position. Only
    the rarer steps (a capabilities refresh, an idempotency claim, stored uploads, a webhook) hop to threads."""
    settings = ctx.settings
    if video_request.priority is Priority.HIGH and not principal.may_use_high_priority:
        raise PermissionDeniedError(
            "priority 'high' needs an API key listed in the server's VIDEOGEN_HIGH_PRIORITY_API_KEYS"
        )
    client = ctx.aredis if ctx.aredis is not None else _loop_client(ctx)
    ahead_keys = ctx.queue.ahead_keys(video_request.priority)
    now = time.time()
    limit = settings.rate_limit_per_minute
    pipe = client.pipeline(transaction=False)
    if limit > 0:
        rate_key, window = rate_window(principal, ctx, now)
        count_rate(pipe, rate_key)
    for key in ahead_keys:
        pipe.llen(key)
    replies = await pipe.execute()
    if limit > 0:
        check_rate_count(limit, int(replies[0]), window, now)
    ahead = sum(int(n) for n in replies[-len(ahead_keys) :])
    capabilities = _CAPABILITIES.cached(ctx)
    if capabilities is None:
        capabilities = await run_in_threadpool(_CAPABILITIES.get, ctx)
    model = check_model(
        video_request.model,
        capabilities.model if capabilities is not None else settings.model,
        settings.model_aliases,
    )
    has_reference = reference is not None or source is not None
    params = resolve_params(video_request, settings, capabilities, has_reference)
    if video_request.webhook_events is not None and video_request.webhook_url is None:
        raise InvalidInputError("webhook_events needs a webhook_url")
    if video_request.webhook_url is not None:
        if settings.webhook_secret is None:
            raise InvalidWebhookURLError(
                "webhooks are off on this server (no VIDEOGEN_WEBHOOK_SECRET is set)"
            )
        check_webhook_url(video_request.webhook_url, settings.webhook_allow_private)
    png = normalize_reference(reference, settings) if reference is not None else None
    video_id = new_video_id()
    set_log_fields(video_id=video_id)  # this request's log lines name it from here on
    claim_key = None
    if idempotency_key is not None:
        if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise InvalidInputError(f"Idempotency-Key must be 1..{MAX_IDEMPOTENCY_KEY} characters")
        claim_key = ctx.keys.idempotency(
            principal.owner, hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
        )
        digest = request_digest(video_request, reference)
        earlier = await run_in_threadpool(_claim_idempotency, ctx, claim_key, digest, video_id)
        if earlier is not None:
            return earlier, True, None
    now = time.time()
    record = VideoRecord(
        id=video_id,
        owner=principal.owner,
        status=VideoStatus.QUEUED,
        priority=video_request.priority,
        created_at=now,
        queued_at=now,
        model=model,
        source=source,
        params=params,
        metadata=video_request.metadata,
        webhook_url=video_request.webhook_url,
        webhook_events=video_request.webhook_events,
    )
    created = False
    stored = png is not None or source_upload is not None
    try:
        if ahead >= settings.max_queued:
            raise QueueFullError(
                f"{settings.max_queued} jobs of priority {video_request.priority} or higher are waiting, the"
                " limit; try again shortly",
                retry_after=QUEUE_FULL_RETRY_AFTER_S,
            )
        if stored:
            await run_in_threadpool(_store_uploads, ctx, video_id, png, source_upload)
        # The record and RQ's job in one MULTI: one round trip, and no record without its job (or job without
        # its record) if the API dies between the two. The queue lengths after the push give its position.
        tx = client.pipeline(transaction=True)
        tx.multi()  # RQ adds to a caller's pipeline only in explicit MULTI mode
        ctx.records.create(record, pipeline=tx)
        ctx.queue.enqueue(video_id, 1, video_request.priority, pipeline=tx)  # type: ignore[arg-type]
        for key in ahead_keys:
            tx.llen(key)
        created = True
        replies = await tx.execute()
    except Exception:
        await run_in_threadpool(_undo, ctx, record, claim_key, created, stored)
        raise
    position = sum(int(n) for n in replies[-len(ahead_keys) :]) - 1  # the jobs ahead of it, itself not
    # The access log line names the video (set_log_fields above); this one only at debug, to log once a request.
    logger.debug("video %s queued for %s at %s priority", video_id, principal.owner, video_request.priority)
    if record.webhook_url is not None:
        await run_in_threadpool(notify_record, ctx, record, WebhookEvent.QUEUED)
    return record, False, position


def _loop_client(ctx: Context) -> redis.asyncio.Redis:
    """An event-loop client for an app run without its lifespan (kept on the context from then on)."""
    ctx.aredis = api_async_redis(ctx.settings.redis_url)
    return ctx.aredis


def _store_uploads(ctx: Context, video_id: str, png: bytes | None, source_upload: bytes | None) -> None:
    if png is not None:
        ctx.storage.put(video_id, INPUT_REFERENCE, png, "image/png")
    if source_upload is not None:
        ctx.storage.put(video_id, SOURCE_UPLOAD, source_upload, "video/mp4")


def _undo(ctx: Context, record: VideoRecord, claim_key: str | None, created: bool, stored: bool) -> None:
    """Best-effort cleanup of a submission that failed half-way (Redis or storage may be the reason)."""
    for step in (
        (lambda: ctx.redis.delete(claim_key)) if claim_key else None,
        (lambda: ctx.records.delete(record)) if created else None,
        (lambda: ctx.storage.delete_all(record.id)) if stored else None,
    ):
        if step is None:
            continue
        try:
            step()
        except Exception as exc:
            logger.warning("cleanup after a failed submission of %s: %s", record.id, exc)
