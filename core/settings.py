"""Settings for the API, the worker and ``videogen up``: one pydantic-settings class, read from the environment
(prefix ``VIDEOGEN_``; ``REDIS_URL`` is also accepted) through the cached ``get_settings()``, the only place that
reads the environment. Durations are seconds, sizes are bytes unless a name says otherwise."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.video import PRIORITY_ORDER, Priority
from core.webhook_secret import decode_secret

SIZE_PATTERN = re.compile(r"^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$")


def parse_size(size: str) -> tuple[int, int]:
    """``"WxH"`` -> ``(width, height)`` in pixels; ``ValueError`` for anything else."""
    match = SIZE_PATTERN.match(size)
    if match is None:
        raise ValueError(f"size {size!r} must look like '64x64' (width x height in pixels)")
    return int(match.group(1)), int(match.group(2))


def _split_list(value: object) -> object:
    """Accept a JSON list or a comma-separated string for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDEOGEN_", extra="ignore", frozen=True)

    # Redis and the queue
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", validation_alias=AliasChoices("VIDEOGEN_REDIS_URL", "REDIS_URL")
    )
    key_prefix: str = "videogen"  # every Redis key this project writes starts with it (RQ's own keys: "rq:")
    # The normal-priority RQ queue; high and low priority wait in "<queue_name>.high" and "<queue_name>.low".
    queue_name: str = "videogen"
    # The priorities a worker serves, highest first (strict: it takes a job of the first non-empty queue).
    worker_priorities: Annotated[list[Priority], NoDecode] = list(PRIORITY_ORDER)
    # POST /videos answers 503 queue_full when this many jobs would run before the new one (its priority or higher)
    max_queued: int = Field(100, ge=1)

    # The model (worker side)
    model: str = "demo"  # "demo", a preset ("tiny") or a saved pipeline folder
    # Other names a request's ``model`` may give for the served model (OpenAI SDK code passes e.g. sora-2)
    model_aliases: Annotated[list[str], NoDecode] = []
    device: str = "auto"  # "auto" (cuda if present), "cpu", "cuda", "cuda:1", ...
    # auto: per module the fastest backend present (on a CPU: ONNX Runtime where it measured faster, exported
    # once into <data_dir>/engines/<weights key>/ unless engine_dir is set; docs/performance.md)
    backend: Literal["auto", "tensorrt", "onnxruntime", "torch"] = "auto"
    engine_dir: str | None = None  # `videogen export` output: ONNX files, TensorRT engines
    # Weights precision: auto = float16 on CUDA (VAE decoders float32), float32 on CPU
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    # torch.compile (inductor; each new shape compiles once) the denoisers, upsampler and decoder left on torch; the
    # warm-up pays the compilation (minutes on a CPU). Measured speed-ups: docs/performance.md.
    torch_compile: bool = False
    warmup: bool = True  # a 1-step default-shape generation at start, so the first job is not the slow one

    # Request limits (API side; the worker re-checks what the loaded model can do)
    allowed_sizes: Annotated[list[str], NoDecode] = ["64x64", "32x32", "128x128", "256x256"]
    default_fps: float = Field(8.0, gt=0)
    max_fps: float = Field(30.0, gt=0)
    max_num_frames: int = Field(128, ge=1)
    max_inference_steps: int = Field(100, ge=1)
    max_guidance_scale: float = Field(30.0, ge=0)
    max_prompt_chars: int = Field(1000, ge=1)
    max_metadata_bytes: int = Field(2048, ge=0)  # metadata JSON, UTF-8
    max_reference_bytes: int = Field(8 * 1024 * 1024, ge=1)
    max_reference_pixels: int = Field(4096 * 4096, ge=1)
    max_body_bytes: int = Field(12 * 1024 * 1024, ge=1024)  # 413 beyond this
    max_wait_s: float = Field(60.0, ge=0)  # cap on "Prefer: wait=N"
    max_page_limit: int = Field(100, ge=1)

    # Auth and rate limiting
    auth_enabled: bool = True  # off only for local use (``videogen up`` turns it off when no keys are set)
    api_keys: Annotated[list[SecretStr], NoDecode] = []  # secrets: repr and logs show '**********'
    # Keys that may also ask for priority "high" (each is a valid API key by itself; others get 403).
    high_priority_api_keys: Annotated[list[SecretStr], NoDecode] = []
    rate_limit_per_minute: int = Field(60, ge=0)  # POST /videos per API key (or per client address); 0 = off

    # Jobs
    job_timeout_s: int = Field(600, ge=1)  # a job running longer fails with error.code "timeout"
    result_ttl_s: int = Field(24 * 3600, ge=1)  # finished videos (files and records) are swept after this
    heartbeat_ttl_s: float = Field(
        15.0, gt=0
    )  # a running job whose heartbeat is older is "lost" (worker died)
    max_attempts: int = Field(2, ge=1)  # runs of one job, counting retries after a lost worker
    progress_interval_s: float = Field(0.5, ge=0)  # progress writes are throttled to one per interval
    maintenance_interval_s: float = Field(2.0, gt=0)  # lost-job, expiry and webhook sweeps
    # On SIGTERM a worker takes no new job and gives the running one this long to finish; then it interrupts it
    # and hands it back to the queue (not counted as an attempt). Keep it below the orchestrator's grace period.
    worker_drain_s: float = Field(30.0, ge=0)
    # CPU threads: each worker's torch and ONNX Runtime pools get the CPUs it may use (affinity, cgroup quota)
    # divided by workers_per_host, unless torch_threads names the count.
    workers_per_host: int = Field(1, ge=1)
    torch_threads: int | None = Field(None, ge=1)

    # Storage
    storage: Literal["local", "s3"] = "local"
    data_dir: Path = Path("data")
    s3_bucket: str = "videogen"
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None  # host browsers reach for presigned URLs, if not the same
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None  # None: boto3's usual chain (AWS_ACCESS_KEY_ID, profiles, roles)
    s3_secret_access_key: SecretStr | None = None
    s3_presign_redirect: bool = False  # GET .../content answers 307 to a presigned URL instead of streaming
    s3_presign_expiry_s: int = Field(3600, ge=1)
    storage_retries: int = Field(3, ge=1)  # attempts per storage operation in the worker
    storage_retry_backoff_s: float = Field(0.5, ge=0)

    # Webhooks (Standard Webhooks signatures)
    webhook_secret: SecretStr | None = None  # "whsec_<base64>"; webhook_url is refused while unset
    webhook_allow_private: bool = False  # allow loopback/private/link-local targets (tests, closed networks)
    webhook_timeout_s: float = Field(10.0, gt=0)
    webhook_max_attempts: int = Field(6, ge=1)
    webhook_backoff_s: float = Field(2.0, ge=0)  # first retry delay; doubles per attempt

    # Logging (every process)
    log_format: Literal["text", "json"] = "text"  # json: one object per line (the images and compose use it)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # HTTP server
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)

    @field_validator(
        "allowed_sizes",
        "api_keys",
        "high_priority_api_keys",
        "worker_priorities",
        "model_aliases",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()

    @field_validator("allowed_sizes")
    @classmethod
    def _sizes(cls, value: list[str]) -> list[str]:
        for size in value:
            parse_size(size)
        if not value:
            raise ValueError("allowed_sizes must name at least one size")
        return value

    @field_validator("worker_priorities")
    @classmethod
    def _priorities(cls, value: list[Priority]) -> list[Priority]:
        if not value:
            raise ValueError("worker_priorities must name at least one of high, normal, low")
        if len(set(value)) != len(value):
            raise ValueError("worker_priorities names a priority twice")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_secret(value.get_secret_value())
        return value

    @property
    def all_api_keys(self) -> list[SecretStr]:
        """Every key that authenticates: ``api_keys`` and ``high_priority_api_keys``."""
        return [*self.api_keys, *self.high_priority_api_keys]

    @property
    def size_pairs(self) -> list[tuple[int, int]]:
        """``allowed_sizes`` as (width, height) pairs."""
        return [parse_size(s) for s in self.allowed_sizes]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
