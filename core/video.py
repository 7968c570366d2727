"""The video job contract shared by the API and the worker: states, stages, effective parameters and the public
video object (the body ``GET /videos/{id}`` returns and webhooks deliver)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

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


def priority_of(record: dict[str, Any]) -> Priority:
    """A record's priority (records written before priorities existed are ``normal``)."""
    return Priority(record.get("priority") or Priority.NORMAL)


# Pipeline stages (reported by the model) and the worker's own two job phases, in order (core/stages.py).
STAGES = JOB_STAGES

# Files a finished video has in storage, by content variant.
VARIANTS = {"video": "video.mp4", "thumbnail": "thumbnail.jpg", "reference": "reference.png"}
INPUT_REFERENCE = "input.png"  # the client's reference image, stored at submit time
MIME_TYPES = {"video": "video/mp4", "thumbnail": "image/jpeg", "reference": "image/png"}


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


class Video(BaseModel):
    """The public video object."""

    id: str
    object: Literal["video"] = "video"
    status: VideoStatus
    progress: int = Field(ge=0, le=100, description="percent done, rises monotonically")
    stage: Stage | None = None
    priority: Priority = Field(Priority.NORMAL, description="the queue it waits in; high runs first")
    queue_position: int | None = Field(
        None, description="jobs that run before it as the queues stand now (0 = next); only while queued"
    )
    attempt: int = Field(1, description="1 for the first run; higher after a lost worker's job was retried")
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = Field(
        None, description="when files and record are removed (finished videos)"
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
    links: VideoLinks | None = Field(None, description="content URLs; set once completed")


def to_datetime(value: str | float | None) -> datetime | None:
    """Unix seconds (as stored in Redis) -> an aware UTC datetime."""
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(float(value), tz=UTC)


def links_for(video_id: str) -> VideoLinks:
    base = f"/videos/{video_id}/content"
    return VideoLinks(
        content=base, thumbnail=f"{base}?variant=thumbnail", reference=f"{base}?variant=reference"
    )


def video_from_record(record: dict[str, Any], queue_position: int | None = None) -> Video:
    """Build the public object from a decoded record (``core.records.VideoRecords.get``)."""
    status = VideoStatus(record["status"])
    return Video(
        id=record["id"],
        status=status,
        progress=record.get("progress", 0),
        stage=record.get("stage") or None,
        priority=priority_of(record),
        queue_position=queue_position if status is VideoStatus.QUEUED else None,
        attempt=record.get("attempt", 1),
        created_at=to_datetime(record["created_at"]),
        started_at=to_datetime(record.get("started_at")),
        completed_at=to_datetime(record.get("completed_at")),
        expires_at=to_datetime(record.get("expires_at")),
        params=VideoParams.model_validate(record["params"]),
        metadata=record.get("metadata") or {},
        webhook_url=record.get("webhook_url") or None,
        error=ErrorInfo.model_validate(record["error"]) if record.get("error") else None,
        backends=record.get("backends") or {},
        timings=record.get("timings") or {},
        memory=record.get("memory") or {},
        links=links_for(record["id"]) if status is VideoStatus.COMPLETED else None,
    )
