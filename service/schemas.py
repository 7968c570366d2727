"""HTTP schemas that are not the job contract itself (that one, ``Video``, lives in ``core.video``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from core.video import PRIORITY_ORDER, Priority, Video


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code")
    message: str = Field(description="what went wrong, for humans")


class ErrorBody(BaseModel):
    error: ErrorDetail


class VideoList(BaseModel):
    """A page of videos (OpenAI's cursor page: pass ``last_id`` as ``after`` for the next)."""

    object: Literal["list"] = "list"
    data: list[Video]
    has_more: bool
    first_id: str | None = Field(None, description="the first video's id on this page")
    last_id: str | None = Field(None, description="the last video's id on this page: ?after= for the next")
    next_cursor: str | None = Field(None, description="last_id when has_more, else null (pass as ?after=)")


class DeletedVideo(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


class Limits(BaseModel):
    max_num_frames: int
    max_inference_steps: int
    max_guidance_scale: float
    max_fps: float
    max_prompt_chars: int
    max_metadata_bytes: int
    max_reference_bytes: int
    max_body_bytes: int
    max_wait_s: float
    max_page_limit: int
    max_queued: int
    rate_limit_per_minute: int = Field(description="POST /videos per API key; 0 = no limit")


class ModelInfo(BaseModel):
    """What the live workers' model can do (absent until a worker has started)."""

    name: str
    defaults: dict[str, Any]
    size_multiple: int
    max_base_frames: int
    max_temporal_upsampling: int
    device: str
    backends: dict[str, str]


class Options(BaseModel):
    """The server's choices and limits, for clients building a form (public, no API key needed)."""

    auth_required: bool
    allowed_sizes: list[str]
    default_fps: float
    limits: Limits
    model: ModelInfo | None
    webhooks_enabled: bool
    result_ttl_s: int
    job_timeout_s: int
    storage: Literal["local", "s3"]
    stages: list[str]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class PriorityQueueState(BaseModel):
    priority: Priority
    depth: int = Field(description="jobs waiting at this priority")
    workers: int = Field(description="live workers serving this priority (0: its jobs wait until one comes)")


class WorkerState(BaseModel):
    """One live worker, as it announces itself."""

    model: str
    device: str
    backends: dict[str, str] = Field(
        description="pipeline stage -> backend running it (tensorrt, onnxruntime, torch)"
    )
    priorities: list[Priority] = Field(description="the priorities it serves, highest first")
    busy: bool = Field(description="running a video now")

    @classmethod
    def of(cls, presence: dict[str, Any]) -> WorkerState:
        """From a ``core.lifecycle.live_workers`` entry."""
        caps = presence["capabilities"]
        return cls(
            model=caps["model"],
            device=caps.get("device", "cpu"),
            backends=caps.get("backends", {}),
            priorities=presence.get("priorities", PRIORITY_ORDER),
            busy=bool(presence.get("busy")),
        )


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    redis: bool
    storage: bool
    workers: int
    queue_depth: int = Field(description="jobs waiting, all priorities")
    queues: list[PriorityQueueState] = Field(default_factory=list, description="highest priority first")
    live_workers: list[WorkerState] = Field(default_factory=list, description="what each live worker runs")
