"""The video job contract shared by the API and the worker: states, stages, effective parameters and the public
video object (the body ``GET /videos/{id}`` returns and webhooks deliver)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.stages import JOB_STAGES, Stage


class VideoStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Terminal states never change again."""
        return self in TERMINAL


TERMINAL = frozenset({VideoStatus.COMPLETED, VideoStatus.FAILED, VideoStatus.CANCELLED})


class Priority(StrEnum):
    """Which queue a video waits in. A worker serving several takes the highest priority first (strict order:
    ``low`` runs only while nothing ``high`` or ``normal`` waits)."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITY_ORDER = (Priority.HIGH, Priority.NORMAL, Priority.LOW)


class WebhookEvent(StrEnum):
    """What a video's webhook may be told (the request's ``webhook_events``; like Replicate's
    ``webhook_events_filter``). ``completed`` is any end: the delivery's ``type`` says which
    (``video.completed``, ``video.failed``, ``video.cancelled``)."""

    QUEUED = "queued"
    STARTED = "started"
    COMPLETED = "completed"


DEFAULT_WEBHOOK_EVENTS = (WebhookEvent.COMPLETED,)


# Pipeline stages (reported by the model) and the worker's own two job phases, in order (core/stages.py).
STAGES = JOB_STAGES

# Files a finished video has in storage, by content variant.
VARIANTS = {
    "video": "video.mp4",
    "thumbnail": "thumbnail.jpg",
    "reference": "reference.png",
    "spritesheet": "spritesheet.jpg",
}
INPUT_REFERENCE = "input.png"  # the client's reference image, stored at submit time
SOURCE_UPLOAD = "source.mp4"  # a video the client uploaded to edit or extend, stored at submit time
MIME_TYPES = {
    "video": "video/mp4",
    "thumbnail": "image/jpeg",
    "reference": "image/png",
    "spritesheet": "image/jpeg",
}


class ErrorInfo(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. timeout, out_of_memory, worker_lost")
    message: str


class VideoParams(BaseModel):
    """The effective generation parameters: with these (and the same model) the video can be made again.
    Fields the client left out are filled from the model's defaults when a worker knows them."""

    model_config = ConfigDict(extra="forbid")

    prompt: str
    negative_prompt: str | None = None
    num_frames: int | None = None
    fps: float
    size: str | None = Field(None, description="'WxH' in pixels")
    seed: int
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    temporal_upsampling: int | None = None
    has_reference_image: bool = False

    @property
    def width_height(self) -> tuple[int, int] | None:
        if self.size is None:
            return None
        width, height = self.size.split("x")
        return int(width), int(height)

    @property
    def is_complete(self) -> bool:
        return None not in (
            self.num_frames,
            self.size,
            self.num_inference_steps,
            self.guidance_scale,
            self.temporal_upsampling,
        )


class VideoLinks(BaseModel):
    content: str
    thumbnail: str
    reference: str
    spritesheet: str


class SourceVideo(BaseModel):
    """The video a remix, edit or extension starts from, and what is taken from it: a remix its reference image,
    an edit its first frame, an extension its last frame (and the new frames are appended to it). Either one of
    the owner's videos (``video_id``) or a video uploaded with the request (``SOURCE_UPLOAD``)."""

    video_id: str | None = Field(None, description="the source video; none: the upload stored with this one")
    operation: Literal["remix", "edit", "extension"]
    num_frames: int | None = Field(
        None, description="the source's frame count (an upload's is known once a worker has read it)"
    )


class VideoState(BaseModel):
    """The fields the stored record (``core.records.VideoRecord``) and the public ``Video`` share, defined once:
    both classes derive from it, so a field added here is stored and served alike."""

    id: str
    status: VideoStatus
    progress: int = Field(0, ge=0, le=100, description="percent done, rises monotonically")
    stage: Stage | None = None
    priority: Priority = Field(Priority.NORMAL, description="the queue it waits in; high runs first")
    attempt: int = Field(1, description="1 for the first run; higher after a lost worker's job was retried")
    model: str | None = Field(None, description="the model asked for (or the served model's name)")
    source: SourceVideo | None = Field(
        None, description="set for a remix, edit or extension of another video"
    )
    webhook_events: list[WebhookEvent] | None = Field(
        None, description="the events the webhook is sent for; none given: completed (any end)"
    )
    params: VideoParams
    metadata: dict[str, str] = Field(default_factory=dict)
    webhook_url: str | None = None
    error: ErrorInfo | None = None
    backends: dict[str, str] = Field(default_factory=dict, description="stage -> inference backend used")
    timings: dict[str, float] = Field(default_factory=dict, description="stage -> seconds spent")
    memory: dict[str, int] = Field(
        default_factory=dict,
        description="stage -> peak bytes: torch's allocation on a GPU worker, the process's resident set on a CPU",
    )


class Video(VideoState):
    """The public video object: a superset of the OpenAI SDK's ``Video`` (same names, same types: timestamps in
    unix seconds, ``seconds`` and ``size`` as strings), plus videogen's own fields."""

    object: Literal["video"] = "video"
    created_at: int = Field(description="unix seconds")
    started_at: int | None = Field(None, description="unix seconds")
    completed_at: int | None = Field(None, description="unix seconds")
    expires_at: int | None = Field(
        None, description="unix seconds: when files and record are removed (finished videos)"
    )
    prompt: str
    seconds: str | None = Field(
        None, description="duration in seconds, as the OpenAI SDK types it (a string)"
    )
    size: str | None = Field(None, description="'WxH' in pixels")
    remixed_from_video_id: str | None = Field(
        None, description="the source of a remix, edit or extension (OpenAI's name; ``source`` says which)"
    )
    queue_position: int | None = Field(
        None, description="jobs that run before it as the queues stand now (0 = next); only while queued"
    )
    links: VideoLinks | None = Field(None, description="content URLs; set once completed")


def links_for(video_id: str) -> VideoLinks:
    base = f"/videos/{video_id}/content"
    return VideoLinks(
        content=base,
        thumbnail=f"{base}?variant=thumbnail",
        reference=f"{base}?variant=reference",
        spritesheet=f"{base}?variant=spritesheet",
    )


def seconds_of(params: VideoParams, source: SourceVideo | None = None) -> str | None:
    """The video's length as the OpenAI SDK spells it ("4", "2.5"), once the frame count is known; an
    extension's counts the source's frames too (its first frame is the source's last, shown once)."""
    if params.num_frames is None:
        return None
    frames = params.num_frames
    if source is not None and source.operation == "extension":
        if source.num_frames is None:
            return None
        frames += source.num_frames - 1
    return f"{frames / params.fps:g}"
