"""What a client may ask for (``VideoRequest``), what a worker's model can do (``Capabilities``) and how the two
become the effective ``VideoParams``. Pure functions: the API runs them at submit time with the capabilities the
workers publish, the worker runs them again with its own loaded model."""

from __future__ import annotations

import json
import math
import secrets

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import InvalidInputError
from core.settings import Settings, parse_size
from core.stages import MAX_TEMPORAL_UPSAMPLING
from core.video import Priority, VideoParams, WebhookEvent

MAX_SEED = 2**32 - 1


class ImageReference(BaseModel):
    """OpenAI's ``input_reference`` object: an image by URL. Only ``data:`` URLs (or bare base64) are taken:
    this server fetches nothing from the network, and it keeps no uploaded files to name by ``file_id``."""

    model_config = ConfigDict(extra="forbid")

    image_url: str | None = Field(None, description="a data: URL or base64 of a PNG/JPEG/WebP")
    file_id: str | None = Field(None, description="not supported here: upload the image instead")


class VideoRef(BaseModel):
    """A video of yours by id (OpenAI's ``video: {id}``)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=64)


class BaseVideoRequest(BaseModel):
    """What every way to make a video shares besides its parameters: the model named, the queue, your metadata
    and the webhook."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=10_000, description="what the video shows")
    model: str | None = Field(
        None, max_length=200, description="the served model's name or an alias (VIDEOGEN_MODEL_ALIASES)"
    )
    webhook_url: str | None = Field(None, max_length=2048, description="POSTed the video when it finishes")
    webhook_events: list[WebhookEvent] | None = Field(
        None, max_length=3, description="events to deliver (queued, started, completed); default: completed"
    )
    priority: Priority = Field(
        Priority.NORMAL,
        description="queue to wait in: workers run high before normal before low; high needs a key allowed it",
    )
    metadata: dict[str, str] = Field(
        default_factory=dict, max_length=16, description="your own key/value pairs, returned as given"
    )

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt must not be blank")
        return value


class RemixRequest(BaseVideoRequest):
    """``POST /videos/{id}/remix``: the source's seed, size, length and reference image with a new prompt."""


class EditRequest(BaseVideoRequest):
    """``POST /videos/edits``: the source's first frame as the reference, its size, length and seed, a new
    prompt. The source is one of your videos (``video``) or an MP4 uploaded as the form's ``video`` file."""

    video: VideoRef | None = Field(None, description="one of your completed videos (or upload the file)")


class ExtensionRequest(BaseVideoRequest):
    """``POST /videos/extensions``: ``seconds`` more of the source, starting from its last frame. The source is
    one of your videos (``video``) or an MP4 uploaded as the form's ``video`` file."""

    seconds: float = Field(gt=0, le=3600, description="length of the new part")
    video: VideoRef | None = Field(None, description="one of your completed videos (or upload the file)")


class VideoRequest(BaseVideoRequest):
    """The body of ``POST /videos``. Unknown fields are rejected; omitted fields take the model's defaults."""

    negative_prompt: str | None = Field(None, max_length=10_000, description="what it should not show")
    num_frames: int | None = Field(None, ge=1, le=10_000, description="frames in the video (or give seconds)")
    seconds: float | None = Field(
        None, gt=0, le=3600, description="duration; num_frames = round(seconds*fps)"
    )
    fps: float | None = Field(None, gt=0, le=240, description="frames per second of the MP4")
    size: str | None = Field(None, pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$", description="'WxH' pixels")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="same seed and parameters: same video")
    num_inference_steps: int | None = Field(
        None,
        ge=1,
        le=999,
        description="denoising steps per stage (super-resolution: the model's sr_steps_ratio of them)",
    )
    guidance_scale: float | None = Field(None, ge=0, le=1000, allow_inf_nan=False)
    temporal_upsampling: int | None = Field(
        None, ge=0, le=MAX_TEMPORAL_UPSAMPLING, description="frame-rate doublings after the base stage"
    )
    reference_image: str | None = Field(
        None, description="image + text to video: a PNG/JPEG/WebP as base64 or a data: URL"
    )
    input_reference: ImageReference | None = Field(
        None, description="OpenAI's name for the reference (as a multipart file, or {image_url: data URL})"
    )


class Capabilities(BaseModel):
    """What the model a worker loaded can do; workers publish it in Redis, the API reads it."""

    model: str
    defaults: dict[str, float | int]  # num_frames, height, width, num_inference_steps, guidance_scale, ...
    size_multiple: int
    max_base_frames: int
    max_temporal_upsampling: int = MAX_TEMPORAL_UPSAMPLING
    device: str = "cpu"
    backends: dict[str, str] = Field(default_factory=dict)

    def base_frames_for(self, num_frames: int, temporal_upsampling: int) -> int:
        """Frames the base stage makes so ``temporal_upsampling`` doublings reach ``num_frames`` (as the
        pipeline computes it)."""
        return math.ceil((num_frames - 1) / 2**temporal_upsampling) + 1


# What a worker serving the ``tiny`` preset announces (``worker.runtime.load_runtime``), torch-free, so API tests and
# bench/api.py can stand in for a live worker without loading one; tests/unit/worker/test_runtime.py checks it
# against the preset itself.
TINY_PRESET_CAPABILITIES = Capabilities(
    model="tiny",
    defaults={
        "num_frames": 8,
        "height": 32,
        "width": 32,
        "num_inference_steps": 4,
        "guidance_scale": 3.0,
        "temporal_upsampling": 1,
    },
    size_multiple=8,
    max_base_frames=16,
)


def check_model(requested: str | None, served: str, aliases: list[str]) -> str:
    """The model name a video records: ``requested`` if it names the served model (its name, the last part of
    its path, or one of ``aliases``), the served name when none was asked for; ``InvalidInputError`` naming the
    accepted names otherwise."""
    if requested is None:
        return served
    accepted = list(dict.fromkeys([served, served.rstrip("/").rsplit("/", 1)[-1], *aliases]))
    if requested not in accepted:
        raise _bad(f"model {requested!r} is not served here; accepted: {', '.join(accepted)}")
    return requested


def _bad(message: str) -> InvalidInputError:
    return InvalidInputError(message)


def check_request(request: VideoRequest, settings: Settings) -> None:
    """Raise ``InvalidInputError`` for anything this deployment's limits refuse (independent of the model)."""
    if len(request.prompt) > settings.max_prompt_chars:
        raise _bad(f"prompt has {len(request.prompt)} characters; the limit is {settings.max_prompt_chars}")
    if request.negative_prompt is not None and len(request.negative_prompt) > settings.max_prompt_chars:
        raise _bad(f"negative_prompt is longer than {settings.max_prompt_chars} characters")
    if request.num_frames is not None and request.seconds is not None:
        raise _bad("give num_frames or seconds, not both")
    if request.fps is not None and request.fps > settings.max_fps:
        raise _bad(f"fps={request.fps:g} is above the limit {settings.max_fps:g}")
    if request.size is not None and request.size not in settings.allowed_sizes:
        raise _bad(f"size={request.size} is not allowed; allowed sizes: {', '.join(settings.allowed_sizes)}")
    if request.num_inference_steps is not None and request.num_inference_steps > settings.max_inference_steps:
        raise _bad(
            f"num_inference_steps={request.num_inference_steps} is above {settings.max_inference_steps}"
        )
    if request.guidance_scale is not None and request.guidance_scale > settings.max_guidance_scale:
        raise _bad(f"guidance_scale={request.guidance_scale:g} is above {settings.max_guidance_scale:g}")
    metadata_bytes = len(json.dumps(request.metadata, ensure_ascii=False).encode())
    if metadata_bytes > settings.max_metadata_bytes:
        raise _bad(f"metadata is {metadata_bytes} bytes as JSON; the limit is {settings.max_metadata_bytes}")


def resolve_params(
    request: VideoRequest, settings: Settings, capabilities: Capabilities | None, has_reference: bool
) -> VideoParams:
    """The effective parameters of a request: limits checked, a seed drawn if none was given, and, when the
    model's capabilities are known, defaults filled in and checked against the model."""
    check_request(request, settings)
    fps = request.fps if request.fps is not None else settings.default_fps
    num_frames = request.num_frames
    if request.seconds is not None:
        num_frames = max(1, round(request.seconds * fps))
    if num_frames is not None and num_frames > settings.max_num_frames:
        raise _bad(f"num_frames={num_frames} is above the limit {settings.max_num_frames}")
    params = VideoParams(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        num_frames=num_frames,
        fps=fps,
        size=request.size,
        seed=request.seed if request.seed is not None else secrets.randbelow(MAX_SEED + 1),
        num_inference_steps=request.num_inference_steps,
        guidance_scale=request.guidance_scale,
        temporal_upsampling=request.temporal_upsampling,
        has_reference_image=has_reference,
    )
    if capabilities is None:
        return params
    return fill_for_model(params, capabilities)


def fill_for_model(params: VideoParams, caps: Capabilities) -> VideoParams:
    """Fill the fields left open from the model's defaults and check the result against the model.

    An unspecified ``temporal_upsampling`` takes the model default, raised as far as needed (up to the maximum)
    for the asked frame count to fit the base stage."""
    d = caps.defaults
    num_frames = params.num_frames if params.num_frames is not None else int(d["num_frames"])
    size = params.size or f"{int(d['width'])}x{int(d['height'])}"
    upsampling = params.temporal_upsampling
    if upsampling is None:
        upsampling = int(d["temporal_upsampling"])
        while (
            upsampling < caps.max_temporal_upsampling
            and caps.base_frames_for(num_frames, upsampling) > caps.max_base_frames
        ):
            upsampling += 1
        if num_frames < 2:
            upsampling = 0
    filled = params.model_copy(
        update={
            "num_frames": num_frames,
            "size": size,
            "temporal_upsampling": upsampling,
            "num_inference_steps": params.num_inference_steps or int(d["num_inference_steps"]),
            "guidance_scale": (
                params.guidance_scale if params.guidance_scale is not None else float(d["guidance_scale"])
            ),
        }
    )
    check_for_model(filled, caps)
    return filled


def check_for_model(params: VideoParams, caps: Capabilities) -> None:
    """Raise ``InvalidInputError`` naming what the model cannot do with complete ``params``."""
    width, height = parse_size(params.size or "")
    m = caps.size_multiple
    if width % m or height % m:
        raise _bad(
            f"size={params.size}: model {caps.model!r} needs width and height that are multiples of {m}"
        )
    frames, upsampling = params.num_frames or 0, params.temporal_upsampling or 0
    if upsampling > caps.max_temporal_upsampling:
        raise _bad(f"temporal_upsampling={upsampling} is above {caps.max_temporal_upsampling}")
    if upsampling and frames < 2:
        raise _bad("num_frames must be at least 2 with temporal upsampling")
    base = caps.base_frames_for(frames, upsampling)
    if base > caps.max_base_frames:
        raise _bad(
            f"num_frames={frames} with temporal_upsampling={upsampling} needs {base} base frames; model"
            f" {caps.model!r} makes at most {caps.max_base_frames}: raise temporal_upsampling or ask for fewer"
            " frames"
        )
