"""``GET /videos/{id}/content``: the MP4 (or its thumbnail or reference image), streamed with HTTP range support
so browsers can seek, or a redirect to a presigned URL when the store is S3 and the settings ask for it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from core.errors import ConflictError, NotFoundError
from core.video import MIME_TYPES, VARIANTS, VideoStatus
from service.deps import ContextDep, PrincipalDep
from service.errors import error_response
from service.ranges import RangeNotSatisfiable, parse_range
from service.routes.videos import error_responses, load_owned

router = APIRouter(prefix="/videos", tags=["videos"])

Variant = Literal["video", "thumbnail", "reference"]

CONTENT_RESPONSES = {
    200: {
        "description": "the file",
        "content": {mime: {"schema": {"type": "string", "format": "binary"}} for mime in MIME_TYPES.values()},
    },
    206: {"description": "the requested byte range (Range: bytes=first-last)"},
    307: {"description": "redirect to a presigned URL (S3 with VIDEOGEN_S3_PRESIGN_REDIRECT=true)"},
} | error_responses(401, 404, 409, 416, 503)


@router.get(
    "/{video_id}/content",
    response_class=Response,
    responses=CONTENT_RESPONSES,  # type: ignore[arg-type]
    summary="Download the video, thumbnail or reference image",
)
def get_content(
    video_id: str,
    ctx: ContextDep,
    principal: PrincipalDep,
    variant: Annotated[
        Variant, Query(description="video (MP4), thumbnail (JPEG) or reference (PNG)")
    ] = "video",
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    record = load_owned(ctx, principal.owner, video_id)
    if record["status"] != VideoStatus.COMPLETED:
        raise ConflictError(
            f"video {video_id} is {record['status']}; content exists once it is completed", code="not_ready"
        )
    name, mime = VARIANTS[variant], MIME_TYPES[variant]
    size = ctx.storage.size(video_id, name)
    if size is None:
        raise NotFoundError(f"the {variant} of video {video_id} is no longer stored")
    filename = f"{video_id}.{name.rsplit('.', 1)[1]}"
    if ctx.settings.s3_presign_redirect:
        url = ctx.storage.presigned_url(video_id, name, ctx.settings.s3_presign_expiry_s, mime)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, max-age=3600",
        "ETag": f'"{video_id}-{variant}-{size}"',
    }
    try:
        byte_range = parse_range(range_header, size)
    except RangeNotSatisfiable:
        headers = {"Content-Range": f"bytes */{size}"}
        return error_response(416, "range_not_satisfiable", f"the {variant} has {size} bytes", headers)
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(ctx.storage.read(video_id, name), media_type=mime, headers=headers)
    first, last = byte_range
    headers["Content-Length"] = str(last - first + 1)
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(
        ctx.storage.read(video_id, name, first, last), status_code=206, media_type=mime, headers=headers
    )
