"""``/videos``: create (202), read, list (cursor pagination, newest first), cancel and delete."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from core.context import Context
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.keys import is_video_id
from core.lifecycle import finish
from core.logging import set_log_fields
from core.records import VideoRecord
from core.video import Video, VideoStatus
from service.deps import ContextDep, PrincipalDep
from service.schemas import DeletedVideo, ErrorBody, VideoList
from service.submission import read_submission, submit

router = APIRouter(prefix="/videos", tags=["videos"])

_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
WAIT_POLL_S = 0.2


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


def present(ctx: Context, record: VideoRecord) -> Video:
    """The public object of a record, with its queue position while queued."""
    position = None
    if record.status is VideoStatus.QUEUED:
        position = ctx.queue.position(record.id, record.attempt, record.priority)
    return record.to_video(position)


def load_owned(ctx: Context, owner: str, video_id: str) -> VideoRecord:
    """The record of ``video_id`` if it exists and belongs to ``owner``; otherwise ``NotFoundError``."""
    record = ctx.records.get(video_id) if is_video_id(video_id) else None
    if record is None or record.owner != owner:
        raise NotFoundError(f"no video {video_id!r}")
    return record


def requested_wait(prefer: str | None, max_wait_s: float) -> float:
    match = _WAIT.search(prefer or "")
    return min(float(match.group(1)), max_wait_s) if match else 0.0


@router.post(
    "",
    status_code=202,
    response_model=Video,
    responses={200: {"model": Video, "description": "finished within Prefer: wait, or an idempotent replay"}}
    | error_responses(400, 401, 403, 409, 413, 415, 422, 429, 503),
    summary="Create a video",
)
async def create_video(
    request: Request,
    response: Response,
    ctx: ContextDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    prefer: Annotated[str | None, Header(description="wait=N: hold up to N seconds for the result")] = None,
) -> Video:
    """Queue a video (202). With ``Prefer: wait=N`` the call returns the finished video (200) if it is done
    within N seconds (capped by the server), else the current state (202). Reusing an ``Idempotency-Key`` with
    the same body returns the same video; with another body, 409."""
    video_request, reference = await read_submission(request, ctx.settings.max_reference_bytes)
    record, replayed, position = await submit(ctx, principal, video_request, reference, idempotency_key)
    set_log_fields(video_id=record.id)  # an idempotent replay names an earlier video
    response.headers["Location"] = f"/videos/{record.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    wait_s = requested_wait(prefer, ctx.settings.max_wait_s)
    if wait_s > 0:
        response.headers["Preference-Applied"] = f"wait={wait_s:g}"
        record = await _wait_for_finish(ctx, record, wait_s)
        position = None
    if position is None:
        video = await run_in_threadpool(present, ctx, record)
    else:  # a new job: its position came with the submit's MULTI
        video = record.to_video(position)
    if video.status.is_terminal:
        response.status_code = 200
    return video


async def _wait_for_finish(ctx: Context, record: VideoRecord, wait_s: float) -> VideoRecord:
    deadline = time.monotonic() + wait_s
    while not record.status.is_terminal and time.monotonic() < deadline:
        await asyncio.sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
        latest = await run_in_threadpool(ctx.records.get, record.id)
        if latest is None:
            break
        record = latest
    return record


@router.get(
    "", response_model=VideoList, responses=error_responses(400, 401, 422, 503), summary="List videos"
)
def list_videos(
    ctx: ContextDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: Annotated[str | None, Query(description="cursor: the last id of the previous page")] = None,
    status: VideoStatus | None = None,
    order: Annotated[
        Literal["asc", "desc"], Query(description="by creation time; desc: newest first")
    ] = "desc",
) -> VideoList:
    """Your videos, newest first (or oldest first with ``order=asc``)."""
    limit = min(limit, ctx.settings.max_page_limit)
    try:
        records, has_more = ctx.records.page(principal.owner, limit, after, status, ascending=order == "asc")
    except KeyError:
        raise InvalidInputError(f"unknown cursor after={after!r}") from None
    data = [present(ctx, r) for r in records]
    first_id, last_id = (data[0].id, data[-1].id) if data else (None, None)
    return VideoList(
        data=data,
        has_more=has_more,
        first_id=first_id,
        last_id=last_id,
        next_cursor=last_id if has_more else None,
    )


@router.get(
    "/{video_id}", response_model=Video, responses=error_responses(401, 404, 503), summary="Get a video"
)
def get_video(video_id: str, response: Response, ctx: ContextDep, principal: PrincipalDep) -> Video:
    """The video's current state. While it runs, ``openai-poll-after-ms`` tells the OpenAI SDK's poll helper
    how long to wait before asking again."""
    video = present(ctx, load_owned(ctx, principal.owner, video_id))
    if not video.status.is_terminal:
        response.headers["openai-poll-after-ms"] = str(max(100, int(ctx.settings.progress_interval_s * 1000)))
    return video


@router.post(
    "/{video_id}/cancel",
    response_model=Video,
    responses=error_responses(401, 404, 409, 503),
    summary="Cancel",
)
def cancel_video(video_id: str, ctx: ContextDep, principal: PrincipalDep) -> Video:
    """Cancel a queued or running video. A running job stops within one denoising step and its partial files
    are removed. Cancelling a cancelled video is a no-op; a completed or failed one is a 409."""
    record = load_owned(ctx, principal.owner, video_id)
    for _ in range(3):  # the state may move under us (started, finished): decide again
        status = record.status
        if status is VideoStatus.CANCELLED:
            return present(ctx, record)
        if status.is_terminal:
            raise ConflictError(
                f"video {video_id} is {status.value}; it cannot be cancelled", code="not_cancellable"
            )
        if finish(ctx, video_id, VideoStatus.CANCELLED, [status], attempt=record.attempt):
            if status is VideoStatus.QUEUED:
                ctx.queue.withdraw(video_id, record.attempt, record.priority)
            break
        record = load_owned(ctx, principal.owner, video_id)
    return present(ctx, load_owned(ctx, principal.owner, video_id))


@router.delete(
    "/{video_id}",
    response_model=DeletedVideo,
    responses=error_responses(401, 404, 409, 503),
    summary="Delete",
)
def delete_video(video_id: str, ctx: ContextDep, principal: PrincipalDep) -> DeletedVideo:
    """Delete a finished video's files and record. Cancel a queued or running one first (409 otherwise)."""
    record = load_owned(ctx, principal.owner, video_id)
    if not record.status.is_terminal:
        raise ConflictError(f"video {video_id} is {record.status}; cancel it first", code="not_finished")
    ctx.storage.delete_all(video_id)
    ctx.records.delete(record)
    return DeletedVideo(id=video_id)
