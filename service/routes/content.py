"""``GET``/``HEAD /videos/{id}/content``: a video's file, streamed with HTTP range support so browsers can seek,
with ``ETag`` and ``Last-Modified`` for caches (``If-None-Match``/``If-Modified-Since`` give 304, ``If-Range``
gates a range), or a redirect to a presigned URL when the store is S3 and the settings ask for it. A local file
asked for whole goes out through Starlette's ``FileResponse`` (sendfile where the server has it); ranges, and
every S3 object, are streamed from ``Storage.read``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from core.errors import ConflictError, NotFoundError
from core.video import MIME_TYPES, VARIANTS, VideoStatus
from service.deps import ContextDep, PrincipalDep
from service.errors import error_response
from service.ranges import RangeNotSatisfiable, http_date, not_modified, parse_range, range_allowed
from service.routes.videos import error_responses, load_owned

router = APIRouter(prefix="/videos", tags=["videos"])

Variant = Literal["video", "thumbnail", "spritesheet", "reference"]

CONTENT_RESPONSES = {
    200: {
        "description": "the file",
        "content": {mime: {"schema": {"type": "string", "format": "binary"}} for mime in MIME_TYPES.values()},
    },
    206: {"description": "the requested byte range (Range: bytes=first-last)"},
    304: {"description": "not modified: If-None-Match names the ETag (or If-Modified-Since is not older)"},
    307: {"description": "redirect to a presigned URL (S3 with VIDEOGEN_S3_PRESIGN_REDIRECT=true)"},
} | error_responses(401, 404, 409, 416, 503)


@router.get(
    "/{video_id}/content",
    response_class=Response,
    responses=CONTENT_RESPONSES,  # type: ignore[arg-type]
    summary="Download the video, thumbnail or reference image",
    operation_id="download_video_content",
)
@router.head(
    "/{video_id}/content",
    response_class=Response,
    responses=CONTENT_RESPONSES,  # type: ignore[arg-type]
    summary="The headers the same GET would answer (size, ETag, Last-Modified), without the body",
    operation_id="head_video_content",
)
def get_content(
    video_id: str,
    request: Request,
    ctx: ContextDep,
    principal: PrincipalDep,
    variant: Annotated[
        Variant,
        Query(
            description="video (MP4), thumbnail (JPEG), spritesheet (JPEG grid of frames) or reference (PNG)"
        ),
    ] = "video",
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
    if_modified_since: Annotated[str | None, Header(alias="If-Modified-Since")] = None,
    if_range: Annotated[str | None, Header(alias="If-Range")] = None,
) -> Response:
    record = load_owned(ctx, principal.owner, video_id)
    if record.status is not VideoStatus.COMPLETED:
        raise ConflictError(
            f"video {video_id} is {record.status}; content exists once it is completed", code="not_ready"
        )
    name, mime = VARIANTS[variant], MIME_TYPES[variant]
    info = ctx.storage.stat(video_id, name)
    if info is None:
        raise NotFoundError(f"the {variant} of video {video_id} is no longer stored")
    disposition = f'inline; filename="{video_id}.{name.rsplit(".", 1)[1]}"'
    if ctx.settings.s3_presign_redirect:
        expiry_s = ctx.settings.s3_presign_expiry_s
        url = ctx.storage.presigned_url(video_id, name, expiry_s, mime, disposition)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    validators = {
        "ETag": info.etag,
        "Last-Modified": http_date(info.last_modified),
        "Cache-Control": "private, max-age=3600",
    }
    if not_modified(if_none_match, if_modified_since, info.etag, info.last_modified):
        return Response(status_code=304, headers=validators)
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": disposition, **validators}
    if range_header is None and info.path is not None:
        # FileResponse acts on a Range header by its own rules, so it gets only the requests without one.
        return FileResponse(info.path, media_type=mime, headers=headers)
    try:
        allowed = range_allowed(if_range, info.etag, info.last_modified)
        byte_range = parse_range(range_header, info.size) if allowed else None
    except RangeNotSatisfiable:
        headers = {"Content-Range": f"bytes */{info.size}"}
        return error_response(416, "range_not_satisfiable", f"the {variant} has {info.size} bytes", headers)
    status, (first, last) = (200, (0, info.size - 1)) if byte_range is None else (206, byte_range)
    headers["Content-Length"] = str(last - first + 1)
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    if request.method == "HEAD":
        return Response(status_code=status, media_type=mime, headers=headers)
    chunks = ctx.storage.read(video_id, name, first, last if byte_range is not None else None)
    return StreamingResponse(chunks, status_code=status, media_type=mime, headers=headers)
