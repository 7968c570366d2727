"""RQ job functions. ``generate_video(video_id, attempt)`` runs one attempt of a video on the pipeline this
process loaded once (``worker.main`` installs it; a plain ``rq worker`` gets it loaded on the first job).

A job only starts if its video is still queued on the same attempt, checks every step whether the video is still
wanted, stores its files atomically and finishes through a compare-and-set, so a cancel or a retry elsewhere always
wins cleanly. Every failure ends as ``failed`` with an ``error.code`` and the worker goes on with the next job. A
job the worker's shutdown interrupts (``worker.shutdown``) is handed back: its video returns to ``queued`` on the
same attempt, without its partial files. Everything logged while a job runs carries its ids (``core.logging``).
"""

from __future__ import annotations

import gc
import io
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from rq.timeouts import JobTimeoutException

from core.context import Context
from core.errors import (
    InvalidInputError,
    InvalidReferenceError,
    JobCancelledError,
    JobInterruptedError,
    JobTimeoutError,
    OutOfMemoryError,
    VideoGenError,
)
from core.lifecycle import finish, notify
from core.logging import log_context
from core.metrics import observe_stages
from core.params import fill_for_model
from core.queue import job_id
from core.records import requeue_fields
from core.stages import Stage
from core.storage import with_retries
from core.video import (
    INPUT_REFERENCE,
    MIME_TYPES,
    SOURCE_UPLOAD,
    VARIANTS,
    Priority,
    SourceVideo,
    VideoParams,
    VideoStatus,
    WebhookEvent,
)
from worker.heartbeat import JobHeartbeat, WorkerPresence
from worker.outage import retry_redis
from worker.progress import ProgressTracker
from worker.runtime import Runtime
from worker.shutdown import Shutdown

logger = logging.getLogger(__name__)


@dataclass
class WorkerProcess:
    """What this worker process loaded once and every job in it uses: the Redis/storage context, the loaded
    model, the presence announcing it (its ``busy`` field names the running video) and the shutdown that may
    interrupt a job."""

    ctx: Context
    runtime: Runtime
    presence: WorkerPresence | None = None
    shutdown: Shutdown | None = None


_current: WorkerProcess | None = None


def install(process: WorkerProcess) -> None:
    """Make ``process`` the one every job in this process runs with (``videogen worker`` does, once)."""
    global _current
    _current = process


def current_process() -> WorkerProcess:
    """The installed ``WorkerProcess``; a worker started without ``videogen worker`` (a plain ``rq worker``)
    loads one from the settings on its first job and keeps it."""
    global _current
    if _current is None:
        from core.connection import worker_redis
        from core.settings import get_settings
        from worker.runtime import load_runtime

        settings = get_settings()
        _current = WorkerProcess(
            Context.build(settings, worker_redis(settings.redis_url)), load_runtime(settings)
        )
    return _current


def generate_video(video_id: str, attempt: int) -> str:
    """Run attempt ``attempt`` of ``video_id``; returns the outcome (completed, failed, cancelled, skipped,
    requeued)."""
    from rq import get_current_job

    rq_job = get_current_job()
    timeout_s = int(rq_job.timeout) if rq_job is not None and rq_job.timeout else None
    return VideoJob(current_process(), video_id, attempt, timeout_s).run()


def is_out_of_memory(exc: BaseException) -> bool:
    """A GPU or host allocation failure (the job can fail alone; the process stays usable)."""
    if isinstance(exc, MemoryError):
        return True
    if type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError / torch.cuda.OutOfMemoryError
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def classify(exc: BaseException, timeout_s: int) -> VideoGenError:
    """The error a client sees for an exception raised while running a job."""
    if isinstance(exc, VideoGenError):
        return exc
    if isinstance(exc, JobTimeoutException):
        return JobTimeoutError(f"the job ran longer than its {timeout_s} s limit")
    if is_out_of_memory(exc):
        return OutOfMemoryError(f"out of memory on the worker's device: {exc}"[:500])
    if isinstance(exc, ValueError):
        return InvalidInputError(str(exc))
    return VideoGenError(f"{type(exc).__name__}: {exc}"[:500])


def free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


class VideoJob:
    """One attempt of one video."""

    def __init__(
        self, process: WorkerProcess, video_id: str, attempt: int, timeout_s: int | None = None
    ) -> None:
        ctx, runtime, shutdown = process.ctx, process.runtime, process.shutdown
        self.ctx = ctx
        self.timeout_s = timeout_s if timeout_s is not None else ctx.settings.job_timeout_s
        self.runtime = runtime
        self.video_id = video_id
        self.attempt = attempt
        self.priority = Priority.NORMAL  # the record's, once _start has read it
        self.source: SourceVideo | None = None  # likewise
        self.presence = process.presence
        self.shutdown = shutdown
        interrupt = shutdown.interrupt_reason if shutdown is not None else None
        self.tracker = ProgressTracker(
            ctx.records,
            video_id,
            attempt,
            ctx.settings.progress_interval_s,
            interrupt=interrupt,
            memory=runtime.memory,
        )

    def run(self) -> str:
        with log_context(
            job_id=job_id(self.video_id, self.attempt), video_id=self.video_id, attempt=self.attempt
        ):
            return self._run()

    def _run(self) -> str:
        params = self._start()
        if not isinstance(params, VideoParams):
            return params
        if self.presence is not None:
            self.presence.busy = self.video_id
        try:
            with JobHeartbeat(self.ctx, self.video_id):  # still beating while a handed-back video is requeued
                try:
                    return self._generate(params)
                except JobInterruptedError as exc:
                    return self._hand_back(exc)
        except JobCancelledError as exc:
            return self._stopped(exc)
        except Exception as exc:
            error = classify(exc, self.timeout_s)
            log = logger.exception if error.code == "internal_error" else logger.warning
            log("video %s attempt %d failed: %s: %s", self.video_id, self.attempt, error.code, error)
            return self._fail(error)
        finally:
            if self.presence is not None:
                self.presence.busy = None
            free_memory()

    def _start(self) -> VideoParams | str:
        """Claim the video: still queued on this attempt and asking for what the model can do. It becomes
        in_progress together with its first heartbeat, in one step. Returns the parameters or an outcome."""
        record = self.ctx.records.get(self.video_id)
        if record is None or record.status is not VideoStatus.QUEUED or record.attempt != self.attempt:
            logger.info(
                "video %s attempt %d: no longer queued on this attempt; skipped", self.video_id, self.attempt
            )
            return "skipped"
        self.priority = record.priority
        self.source = record.source
        params = record.params
        # Filled for the model here only when no worker had announced one at submit time (the API could not).
        if not params.is_complete:
            try:
                params = fill_for_model(params, self.runtime.capabilities)
            except InvalidInputError as exc:
                return self._fail(exc)
        started = self.ctx.records.transition(
            self.video_id,
            [VideoStatus.QUEUED],
            VideoStatus.IN_PROGRESS,
            {
                "started_at": time.time(),
                "worker": self._worker_name(),
                "params": params,
                "backends": self.runtime.backends,
                "progress": 0,
            },
            attempt=self.attempt,
            heartbeat_s=self.ctx.settings.heartbeat_ttl_s,
        )
        if started != 1:
            return "skipped"
        if record.webhook_url is not None:
            notify(self.ctx, self.video_id, WebhookEvent.STARTED)
        logger.info("video %s attempt %d started: %s", self.video_id, self.attempt, params.model_dump())
        return params

    def _generate(self, params: VideoParams) -> str:
        reference, before = self._load_reference(params) if params.has_reference_image else (None, None)
        width, height = params.width_height or (0, 0)
        self.tracker(Stage.REFERENCE, 0, 1)  # starts the clock: prompt encoding counts as reference time
        out = self.runtime.pipeline(
            params.prompt,
            negative_prompt=params.negative_prompt,
            num_frames=params.num_frames,
            height=height,
            width=width,
            num_inference_steps=params.num_inference_steps,
            guidance_scale=params.guidance_scale,
            seed=params.seed,
            reference_image=reference,
            temporal_upsampling=params.temporal_upsampling,
            callback=self.tracker,
        )
        frames = out.frames[0]
        if before is not None:  # an extension: the source, then the new frames (the first is its last)
            if before.shape[1:] != frames.shape[1:]:
                raise InvalidInputError(
                    f"the source is {before.shape[2]}x{before.shape[1]}, this video is not"
                )
            frames = np.concatenate([before, frames[1:]])
        files = self._encode(frames, out.reference_images[0], params.fps)
        self._upload(files)
        timings = self.tracker.finish()
        completed = retry_redis(  # a Redis outage now waits for Redis rather than failing the video
            f"video {self.video_id}: completing",
            lambda: finish(
                self.ctx,
                self.video_id,
                VideoStatus.COMPLETED,
                [VideoStatus.IN_PROGRESS],
                {"progress": 100, "timings": timings, "memory": self.tracker.peak_memory},
                attempt=self.attempt,
            ),
        )
        if not completed:
            raise JobCancelledError("the video changed state before it could complete")
        observe_stages(self.ctx.redis, self.ctx.keys, timings, self.tracker.peak_memory)
        logger.info("video %s completed in %.2fs: %s", self.video_id, sum(timings.values()), timings)
        return "completed"

    def _worker_name(self) -> str | None:
        return self.presence.worker_name if self.presence is not None else None

    def _load_reference(self, params: VideoParams) -> tuple[Any, np.ndarray | None]:
        """The reference image (PIL RGB) and, for an extension, the source's frames (F, H, W, 3) uint8 that the
        new ones continue. Without a source it is the client's image; a remix takes the source's reference
        image, an edit its first frame, an extension its last."""
        from PIL import Image, UnidentifiedImageError

        source = self.source
        if source is None or source.operation == "remix":
            owner, name = (
                (self.video_id, INPUT_REFERENCE)
                if source is None
                else (source.video_id, VARIANTS["reference"])
            )
            data = self._read(owner, name)
            try:
                with Image.open(io.BytesIO(data)) as img:
                    return img.convert("RGB"), None
            except (OSError, UnidentifiedImageError) as exc:
                raise InvalidReferenceError(f"the reference image cannot be read: {exc}") from exc
        frames = self._source_frames(source, params)
        if source.operation == "edit":
            return Image.fromarray(frames[0]), None
        return Image.fromarray(frames[-1]), frames

    def _source_frames(self, source: SourceVideo, params: VideoParams) -> np.ndarray:
        """The frames (F, H, W, 3) uint8 of an edit's or extension's source: one of the owner's videos, or the
        MP4 uploaded with the request (scaled to this video's size, its frame count written to the record)."""
        from PIL import Image

        from core.media import read_video

        if source.video_id is not None:
            return read_video(self._read(source.video_id, VARIANTS["video"]))
        try:
            frames = read_video(self._read(self.video_id, SOURCE_UPLOAD))
        except (OSError, ValueError, RuntimeError) as exc:  # imageio/ffmpeg's ways of saying "not a video"
            raise InvalidReferenceError(f"the uploaded video cannot be read: {exc}"[:500]) from exc
        if len(frames) == 0:
            raise InvalidReferenceError("the uploaded video has no frames")
        width, height = params.width_height or (frames.shape[2], frames.shape[1])
        if frames.shape[1:3] != (height, width):
            frames = np.stack([np.asarray(Image.fromarray(f).resize((width, height))) for f in frames])
        self.source = source.model_copy(update={"num_frames": len(frames)})
        self.ctx.records.set_fields(self.video_id, {"source": self.source})
        return frames

    def _read(self, video_id: str, name: str) -> bytes:
        """A stored file's bytes (transient storage errors retried); a source's file that is gone fails the
        video with ``invalid_reference``."""
        settings = self.ctx.settings
        if video_id != self.video_id and self.ctx.storage.size(video_id, name) is None:
            raise InvalidReferenceError(f"the source video {video_id} is no longer stored")
        return with_retries(
            lambda: b"".join(self.ctx.storage.read(video_id, name)),
            settings.storage_retries,
            settings.storage_retry_backoff_s,
            f"read {video_id}/{name}",
        )

    def _encode(self, frames: Any, reference: Any, fps: float) -> list[tuple[str, bytes]]:
        """(variant, bytes) for the MP4, its thumbnail, spritesheet and the reference PNG; frames are uint8
        (F, H, W, 3)."""
        from core.media import encode_mp4, png_bytes, spritesheet_jpeg, thumbnail_jpeg

        self.tracker(Stage.ENCODE, 0, 1)
        files = [
            ("video", encode_mp4(frames, fps)),
            ("thumbnail", thumbnail_jpeg(frames[0])),
            ("spritesheet", spritesheet_jpeg(frames)),
            ("reference", png_bytes(reference)),
        ]
        self.tracker(Stage.ENCODE, 1, 1)
        return files

    def _upload(self, files: list[tuple[str, bytes]]) -> None:
        """Store each file atomically (retrying transient storage errors); the video goes last, so a reader
        that finds the MP4 finds everything."""
        settings = self.ctx.settings
        self.tracker(Stage.UPLOAD, 0, len(files))
        for i, (variant, data) in enumerate(sorted(files, key=lambda f: f[0] == "video")):
            name = VARIANTS[variant]
            with_retries(
                lambda n=name, d=data, v=variant: self.ctx.storage.put(self.video_id, n, d, MIME_TYPES[v]),
                settings.storage_retries,
                settings.storage_retry_backoff_s,
                f"upload {self.video_id}/{name}",
            )
            self.tracker(Stage.UPLOAD, i + 1, len(files))

    def _fail(self, error: VideoGenError) -> str:
        fields = {"timings": self.tracker.finish(), "memory": self.tracker.peak_memory}
        if finish(
            self.ctx,
            self.video_id,
            VideoStatus.FAILED,
            [VideoStatus.QUEUED, VideoStatus.IN_PROGRESS],
            fields,
            attempt=self.attempt,
            error=error,
        ):
            self._remove_outputs()
            return "failed"
        return self._stopped(JobCancelledError("the video changed state before it could fail"))

    def _hand_back(self, reason: JobInterruptedError) -> str:
        """Put the video back to ``queued`` on this same attempt (a shutdown is not the video's failure), without
        any file this run stored; the worker re-enqueues the job when it returns (``Shutdown.hand_back``)."""
        self._remove_outputs(keep_input=True)
        reset = requeue_fields(time.time())
        if (
            self.ctx.records.transition(
                self.video_id, [VideoStatus.IN_PROGRESS], VideoStatus.QUEUED, reset, attempt=self.attempt
            )
            != 1
        ):
            return self._stopped(JobCancelledError("the video changed state before it could be handed back"))
        if self.shutdown is not None:  # (always: only a shutdown interrupts; else the orphan sweep requeues)
            self.shutdown.hand_back(self.video_id, self.attempt, self.priority)
        logger.warning(
            "video %s attempt %d interrupted (%s); handed back to the queue, not counted as an attempt",
            self.video_id,
            self.attempt,
            reason,
        )
        return "requeued"

    def _stopped(self, reason: JobCancelledError) -> str:
        """The video was cancelled, deleted or taken over by another attempt: clean up what is ours."""
        status, attempt = self.ctx.records.status_of(self.video_id)
        logger.info("video %s attempt %d stopped: %s", self.video_id, self.attempt, reason)
        if attempt == self.attempt or status == "":
            self._remove_outputs()
        return "cancelled"

    def _remove_outputs(self, keep_input: bool = False) -> None:
        """Delete the video's files; ``keep_input`` keeps the client's reference image (the job runs again)."""
        try:
            if keep_input:
                self.ctx.storage.delete(self.video_id, VARIANTS.values())
            else:
                self.ctx.storage.delete_all(self.video_id)
        except VideoGenError as exc:
            logger.warning("video %s: files not removed (the expiry sweep will): %s", self.video_id, exc)
