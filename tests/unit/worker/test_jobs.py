"""A job run in-process on the real tiny pipeline, real Redis and real storage."""

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image
from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

from core.lifecycle import finish
from core.media import read_video
from core.metrics import read_stage_histograms
from core.storage import LocalStorage
from core.video import STAGES, VideoStatus
from worker.jobs import VideoJob, WorkerProcess, classify, is_out_of_memory
from worker.runtime import Runtime


def test_a_job_generates_stores_and_completes(ctx, runtime, queue_video):
    vid = queue_video(num_frames=4, temporal_upsampling=1)
    assert VideoJob(WorkerProcess(ctx, runtime), vid, 1).run() == "completed"
    record = ctx.records.get(vid)
    assert record.status == "completed" and record.progress == 100 and record.error is None
    assert set(record.timings) == set(STAGES) and record.backends["base"] == "torch"
    frames = read_video(b"".join(ctx.storage.read(vid, "video.mp4")))
    assert frames.shape == (4, 32, 32, 3)
    assert Image.open(io.BytesIO(b"".join(ctx.storage.read(vid, "thumbnail.jpg")))).format == "JPEG"
    assert Image.open(io.BytesIO(b"".join(ctx.storage.read(vid, "reference.png")))).size == (32, 32)
    sheet = Image.open(io.BytesIO(b"".join(ctx.storage.read(vid, "spritesheet.jpg"))))
    assert sheet.format == "JPEG" and sheet.size == (4 * 128, 128)  # the 4 frames in one row, 128 px tiles
    assert read_stage_histograms(ctx.redis, ctx.keys.stage_seconds)["base"]["count"] == 1.0
    assert ctx.records.running_ids() == [] and not ctx.redis.exists(ctx.keys.heartbeat(vid))


def test_a_job_that_is_no_longer_queued_is_skipped(ctx, runtime, queue_video):
    vid = queue_video()
    finish(ctx, vid, VideoStatus.CANCELLED, [VideoStatus.QUEUED])
    assert VideoJob(WorkerProcess(ctx, runtime), vid, 1).run() == "skipped"
    assert VideoJob(WorkerProcess(ctx, runtime), queue_video(), 2).run() == "skipped"  # another attempt's job


def test_parameters_the_model_cannot_do_fail_with_invalid_input(ctx, runtime, queue_video):
    vid = queue_video(size="36x36")
    assert VideoJob(WorkerProcess(ctx, runtime), vid, 1).run() == "failed"
    error = ctx.records.get(vid).error
    assert error.code == "invalid_input" and "multiple of 8" in error.message  # the pipeline's check_inputs


def test_cancel_while_running_stops_within_a_step_and_removes_files(ctx, runtime, queue_video):
    vid = queue_video(num_inference_steps=40)

    def cancel_when_running():
        while ctx.records.get(vid).stage is None:
            time.sleep(0.01)
        assert finish(ctx, vid, VideoStatus.CANCELLED, [VideoStatus.IN_PROGRESS])

    thread = threading.Thread(target=cancel_when_running)
    thread.start()
    outcome = VideoJob(WorkerProcess(ctx, runtime), vid, 1).run()
    thread.join()
    assert outcome == "cancelled"
    record = ctx.records.get(vid)
    # 40 steps per stage were asked for; it stopped one step after the cancel, still in the first stage
    assert record.status == "cancelled" and record.stage == "reference" and record.progress < 10
    assert ctx.storage.names(vid) == []


class OutOfMemoryOnce:
    """Wraps the real pipeline; its first call fails with a genuine allocator error (as a GPU OOM would)."""

    def __init__(self, pipe):
        self.pipe, self.calls = pipe, 0

    def __call__(self, *args, **kwargs):
        import torch

        self.calls += 1
        if self.calls == 1:
            torch.empty(2**62, dtype=torch.uint8)  # raises: the allocator cannot satisfy this
        return self.pipe(*args, **kwargs)


def test_out_of_memory_fails_that_job_and_the_next_one_runs(ctx, runtime, queue_video):
    flaky = Runtime(OutOfMemoryOnce(runtime.pipeline), runtime.capabilities, "cpu", runtime.backends)
    first, second = queue_video(), queue_video()
    assert VideoJob(WorkerProcess(ctx, flaky), first, 1).run() == "failed"
    assert ctx.records.get(first).error.code == "out_of_memory"
    assert VideoJob(WorkerProcess(ctx, flaky), second, 1).run() == "completed"


def test_rq_timeout_fails_the_job_with_timeout(ctx, runtime, queue_video):
    vid = queue_video(num_inference_steps=200, num_frames=8)
    with UnixSignalDeathPenalty(1, JobTimeoutException, job_id=vid):
        outcome = VideoJob(WorkerProcess(ctx, runtime), vid, 1, timeout_s=1).run()
    assert outcome == "failed"
    error = ctx.records.get(vid).error
    assert error.code == "timeout" and "1 s" in error.message


def test_storage_failure_fails_with_storage_error_after_retries(ctx, runtime, queue_video, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"not a folder")
    ctx.storage = LocalStorage(blocker)
    vid = queue_video()
    started = time.monotonic()
    assert VideoJob(WorkerProcess(ctx, runtime), vid, 1).run() == "failed"
    assert ctx.records.get(vid).error.code == "storage_error"
    assert time.monotonic() - started >= 0.1 + 0.2  # retried with backoff (0.1 s, 0.2 s)


def test_a_reference_image_conditions_the_video(ctx, runtime, queue_video):
    vid = queue_video(has_reference_image=True)
    buffer = io.BytesIO()
    Image.fromarray(np.full((48, 48, 3), (250, 10, 10), np.uint8)).save(buffer, format="PNG")
    ctx.storage.put(vid, "input.png", buffer.getvalue(), "image/png")
    assert VideoJob(WorkerProcess(ctx, runtime), vid, 1).run() == "completed"
    reference = np.asarray(Image.open(io.BytesIO(b"".join(ctx.storage.read(vid, "reference.png")))))
    assert reference.shape == (32, 32, 3) and reference[..., 0].mean() > 200 and reference[..., 1].mean() < 40


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (MemoryError(), "out_of_memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate"), "out_of_memory"),
        (ValueError("height=30 must be"), "invalid_input"),
        (KeyError("x"), "internal_error"),
        (JobTimeoutException("t"), "timeout"),
    ],
)
def test_classify(exc, code):
    assert classify(exc, 60).code == code
    assert is_out_of_memory(exc) == (code == "out_of_memory")
