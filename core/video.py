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
    remixed_from_video_id: str | None = Field(
        None, description="the video this one remixes, extends or edits"
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


def seconds_of(params: VideoParams) -> str | None:
    """The video's length as the OpenAI SDK spells it ("4", "2.5"), once the frame count is known."""
    if params.num_frames is None:
        return None
    return f"{params.num_frames / params.fps:g}"
