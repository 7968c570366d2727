"""Videos made from another of yours: remix, edit and extension (the OpenAI SDK's ``videos.remix``, ``videos.edit``
and ``videos.extend``). Each becomes a ``VideoRequest`` carrying the source's parameters and the new prompt,
submitted like any other video (limits, idempotency, queue); the record names its ``SourceVideo`` and the worker
takes the reference image from it. The SDK's character endpoints are answered with a clear 404.

The paper's reference conditioning is what makes these natural: the reference image fixes the look, the prompt
the motion. A remix keeps the source's reference image (and seed, size, length); an edit takes the source's first
frame; an extension takes its last frame and the new frames are appended to the source's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from core.context import Context
from core.errors import ConflictError, InvalidInputError, NotSupportedError
from core.params import BaseVideoRequest, EditRequest, ExtensionRequest, RemixRequest, VideoRef, VideoRequest
from core.records import VideoRecord
from core.video import SourceVideo, Video, VideoStatus
from service.auth import Principal
from service.deps import ContextDep, PrincipalDep
from service.routes.videos import error_responses, load_owned, present
from service.submission import RequestT, read_body, submit, validated

router = APIRouter(prefix="/videos", tags=["videos"])

SUPPORTED = "create, retrieve, list, delete, cancel, remix, extensions, edits and content downloads"
DERIVED_RESPONSES = error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503)


def completed_source(ctx: Context, owner: str, video_id: str) -> VideoRecord:
    """The owner's completed video ``video_id`` (404 if it is not theirs, 409 ``not_ready`` until completed)."""
    source = load_owned(ctx, owner, video_id)
    if source.status is not VideoStatus.COMPLETED:
        raise ConflictError(
            f"video {video_id} is {source.status}; only a completed video can be remixed, edited or extended",
            code="not_ready",
        )
    return source


def derived_request(
    request: BaseVideoRequest, source: VideoRecord | None, num_frames: int | None = None
) -> VideoRequest:
    """A request with the new prompt and delivery fields and the source's parameters (seed, size, frame rate,
    steps, guidance); an uploaded source (``None``) takes the model's defaults, its frames scaled to the video's
    size. ``num_frames`` replaces the length (and lets the model choose the upsampling for it)."""
    try:
        return _derived_request(request, source, num_frames)
    except ValidationError as exc:  # e.g. an extension's seconds past the frame limit: the client's, not ours
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(f"the derived video would not be valid: {problems}") from exc


def _derived_request(
    request: BaseVideoRequest, source: VideoRecord | None, num_frames: int | None
) -> VideoRequest:
    delivery = request.model_dump(include=set(BaseVideoRequest.model_fields))
    if source is None:
        return VideoRequest(**delivery, num_frames=num_frames)
    params = source.params
    return VideoRequest(
        **delivery,
        negative_prompt=params.negative_prompt,
        num_frames=num_frames if num_frames is not None else params.num_frames,
        fps=params.fps,
        size=params.size,
        seed=params.seed,
        num_inference_steps=params.num_inference_steps,
        guidance_scale=params.guidance_scale,
        temporal_upsampling=params.temporal_upsampling if num_frames is None else None,
    )


@dataclass
class Derivation:
    """What a derived route submits with: the response (for its headers), the context, the caller and the
    request's ``Idempotency-Key``."""

    response: Response
    ctx: Context
    principal: Principal
    idempotency_key: str | None

    async def submit(
        self, video_request: VideoRequest, source: SourceVideo, upload: bytes | None = None
    ) -> Video:
        """Submit like ``POST /videos`` (202, ``Location``, idempotent replays) and answer the new video."""
        record, replayed, _ = await submit(
            self.ctx, self.principal, video_request, None, self.idempotency_key, source, upload
        )
        self.response.headers["Location"] = f"/videos/{record.id}"
        if replayed:
            self.response.headers["Idempotent-Replayed"] = "true"
        return await run_in_threadpool(present, self.ctx, record)


def derivation(
    response: Response,
    ctx: ContextDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Derivation:
    return Derivation(response, ctx, principal, idempotency_key)


DerivationDep = Annotated[Derivation, Depends(derivation)]
CREATED: dict[str, Any] = {"status_code": 202, "response_model": Video, "responses": DERIVED_RESPONSES}


@router.post("/{video_id}/remix", summary="Remix a video", **CREATED)
async def remix_video(video_id: str, request: Request, derive: DerivationDep) -> Video:
    """A new video with the source's seed, size, length and reference image, and a new prompt (the look stays,
    the prompt changes what happens). ``remixed_from_video_id`` names the source."""
    body, upload = await read_derived(request, derive.ctx, RemixRequest)
    if upload is not None:
        raise InvalidInputError("a remix takes no upload: it starts from the video in the path")
    source = completed_source(derive.ctx, derive.principal.owner, video_id)
    link = SourceVideo(video_id=source.id, operation="remix", num_frames=source.params.num_frames)
    return await derive.submit(derived_request(body, source), link)


@router.post("/edits", summary="Edit a video", **CREATED)
async def edit_video(request: Request, derive: DerivationDep) -> Video:
    """A new video that starts from the source's first frame (as its reference image) and follows the new
    prompt, with the source's size, length and seed. The source: ``video: {id}`` (JSON, or ``video[id]`` in a
    form) or an MP4 uploaded as the form's ``video`` file (as the OpenAI SDK sends it)."""
    body, upload = await read_derived(request, derive.ctx, EditRequest)
    if upload is not None:
        link = SourceVideo(operation="edit")
        return await derive.submit(derived_request(body, None), link, upload)
    source = completed_source(derive.ctx, derive.principal.owner, _named(body.video).id)
    link = SourceVideo(video_id=source.id, operation="edit", num_frames=source.params.num_frames)
    return await derive.submit(derived_request(body, source), link)


@router.post("/extensions", summary="Extend a video", **CREATED)
async def extend_video(request: Request, derive: DerivationDep) -> Video:
    """The source continued for ``seconds`` more: the new frames start from its last frame and are appended to
    it, so the video is the source and its continuation joined (``seconds`` in the answer is the total, as
    OpenAI's). The source: ``video: {id}`` or an uploaded MP4, as for edits."""
    body, upload = await read_derived(request, derive.ctx, ExtensionRequest)
    if upload is not None:
        fps = derive.ctx.settings.default_fps
        video_request = derived_request(body, None, new_frames(body.seconds, fps))
        link = SourceVideo(operation="extension")
        return await derive.submit(video_request, link, upload)
    source = completed_source(derive.ctx, derive.principal.owner, _named(body.video).id)
    link = SourceVideo(video_id=source.id, operation="extension", num_frames=source.params.num_frames)
    video_request = derived_request(body, source, new_frames(body.seconds, source.params.fps))
    return await derive.submit(video_request, link)


def new_frames(seconds: float, fps: float) -> int:
    """Frames an extension generates for ``seconds`` more: one more than shown, as its first frame is the
    source's last, shown once when the two are joined."""
    return max(1, round(seconds * fps)) + 1


def _named(video: VideoRef | None) -> VideoRef:
    if video is None:
        raise InvalidInputError(
            "video: name one of your completed videos (video: {id}) or upload an MP4 as video"
        )
    return video


async def read_derived(
    request: Request, ctx: Context, model: type[RequestT]
) -> tuple[RequestT, bytes | None]:
    """The body (JSON or a form, with at most one uploaded ``video`` file) as ``model``; the hostile-input rules
    of ``POST /videos`` apply."""
    payload, upload = await read_body(request, ctx.settings.max_body_bytes, file_fields=("video",))
    body = validated(model, payload)
    if upload is not None and getattr(body, "video", None) is not None:
        raise InvalidInputError("video: name a video or upload one, not both")
    return body, upload


@router.post(
    "/characters",
    responses=error_responses(401, 404),
    summary="Create a character (not supported)",
    status_code=404,
)
def create_character(principal: PrincipalDep) -> None:
    """OpenAI's character endpoints: this server has no characters (404 ``not_supported``)."""
    raise NotSupportedError(f"characters are not supported by this server; it supports {SUPPORTED}")


@router.get(
    "/characters/{character_id}",
    responses=error_responses(401, 404),
    summary="Get a character (not supported)",
    status_code=404,
)
def get_character(character_id: str, principal: PrincipalDep) -> None:
    """OpenAI's character endpoints: this server has no characters (404 ``not_supported``)."""
    raise NotSupportedError(f"characters are not supported by this server; it supports {SUPPORTED}")
