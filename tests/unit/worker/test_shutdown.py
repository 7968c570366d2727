"""Graceful shutdown: the drain deadline, the hand-back of an interrupted job (same attempt, no files, queued
again) and the real signal path: ``run_worker`` in this process with RQ's ``SimpleWorker`` loop, SIGTERM sent to
the process itself while the tiny model generates."""

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest
from rq.job import Job

from core.errors import JobInterruptedError
from core.metrics import read_finished
from core.queue import job_id
from core.video import Priority, VideoStatus
from worker.jobs import VideoJob, WorkerProcess
from worker.main import run_worker
from worker.progress import ProgressTracker
from worker.queue_worker import PUBSUB_READ_S, VideoWorker
from worker.shutdown import Shutdown


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_first_signal_starts_the_drain_and_the_second_ends_it():
    clock = FakeClock()
    shutdown = Shutdown(drain_s=30.0, clock=clock)
    assert not shutdown.requested and shutdown.interrupt_reason() is None
    assert shutdown.request() == 1
    clock.now += 29.9
    assert shutdown.interrupt_reason() is None  # still inside the drain window
    clock.now += 0.1
    assert "did not finish within 30 s" in shutdown.interrupt_reason()
    again = Shutdown(drain_s=30.0, clock=clock)
    again.request()
    again.request()
    assert "twice" in again.interrupt_reason()  # no waiting after a second signal


def test_the_tracker_interrupts_every_stage_but_the_upload(ctx, queue_video):
    vid = queue_video()
    ctx.records.transition(vid, [VideoStatus.QUEUED], VideoStatus.IN_PROGRESS, attempt=1)
    reason: list[str | None] = [None]
    tracker = ProgressTracker(ctx.records, vid, 1, 0.0, interrupt=lambda: reason[0])
    tracker("base", 1, 4)
    reason[0] = "stopping"
    tracker("upload", 1, 3)  # storing the files finishes
    with pytest.raises(JobInterruptedError, match="stopping"):
        tracker("decode", 1, 2)


def test_an_interrupted_job_goes_back_to_queued_on_the_same_attempt_without_files(ctx, runtime, queue_video):
    vid = queue_video(priority=Priority.LOW, has_reference_image=True)
    ctx.storage.put(vid, "input.png", png_bytes(), "image/png")
    ctx.storage.put(vid, "thumbnail.jpg", b"left by an earlier run", "image/jpeg")
    shutdown = Shutdown(drain_s=0.0)
    shutdown.request()  # the deadline has passed: the first step stops the job
    assert VideoJob(WorkerProcess(ctx, runtime, shutdown=shutdown), vid, 1).run() == "requeued"
    record = ctx.records.get(vid)
    assert record.status == "queued" and record.attempt == 1
    assert record.progress == 0 and record.stage is None and record.started_at is None
    assert record.worker is None and record.error is None and record.completed_at is None
    assert ctx.storage.names(vid) == ["input.png"]  # the client's image stays for the next run
    assert shutdown.take_handed_back() == [(vid, 1, Priority.LOW)]  # re-enqueued after RQ lets go, same queue
    assert vid in ctx.records.queued_ids() and vid not in ctx.records.running_ids()
    assert not ctx.redis.exists(ctx.keys.heartbeat(vid))
    assert read_finished(ctx.redis, ctx.keys) == {}  # no outcome counted


def png_bytes() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- the real signal path ------------------------------------------------------------------------------------


@pytest.fixture
def ignore_stray_signals():
    """SIGTERM/SIGINT do nothing outside ``run_worker`` during the test (a late signal must not end pytest)."""
    previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def signal_when(condition: Callable[[], bool], count: int = 1, gap_s: float = 1.2) -> threading.Thread:
    """SIGTERM this process ``count`` times (``gap_s`` apart) once ``condition()`` holds."""

    def run() -> None:
        deadline = time.monotonic() + 60
        while not condition():
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        for i in range(count):
            if i:
                time.sleep(gap_s)
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def in_stage(ctx, vid: str, stages: set[str]) -> Callable[[], bool]:
    return lambda: getattr(ctx.records.get(vid), "stage", None) in stages


def test_the_command_thread_stops_within_a_read_slice_when_the_unsubscribe_reply_came_first(ctx):
    """RQ's teardown unsubscribes, then stops its command thread. If the thread reads the unsubscribe reply
    before the stop (a busy main thread), it waits a whole read for a subscription again: 60 s with RQ's own
    ``subscribe``."""
    worker = VideoWorker(
        ctx.queue.serving(list(Priority)),
        ctx=ctx,
        shutdown=Shutdown(1.0),
        connection=ctx.redis,
        name="pubsub",
    )
    worker.subscribe()
    try:
        deadline = time.monotonic() + 10
        while not worker.pubsub.subscribed and time.monotonic() < deadline:
            time.sleep(0.01)
        worker.pubsub.unsubscribe()
        while worker.pubsub.subscribed and time.monotonic() < deadline:  # the thread has read the reply
            time.sleep(0.01)
        assert not worker.pubsub.subscribed
        started = time.monotonic()
        worker.unsubscribe()  # RQ's teardown step
        took = time.monotonic() - started
    finally:
        worker.pubsub_thread.join(timeout=PUBSUB_READ_S + 60)
    assert took <= PUBSUB_READ_S + 1.0, f"the command thread took {took:.1f} s to stop"
    assert not worker.pubsub_thread.is_alive()


def test_sigterm_while_idle_stops_the_worker_at_once(
    make_settings, runtime, ignore_stray_signals, ctx, caplog
):
    """The signal lands while RQ's loop blocks on the empty queue."""
    caplog.set_level(logging.INFO)
    settings = make_settings(worker_drain_s=30.0)
    signal_when(lambda: ctx.redis.hget("rq:worker:idle", "state") == b"idle")
    started = time.monotonic()
    assert run_worker(settings, name="idle", runtime=runtime, maintenance=False) == 0
    assert time.monotonic() - started < 10
    assert "SIGTERM while idle: stopping" in caplog.text
    assert not ctx.redis.exists(ctx.keys.worker("idle"))  # its presence is gone


def test_a_job_that_finishes_within_the_drain_window_completes(
    make_settings, runtime, ignore_stray_signals, ctx, queue_video, caplog
):
    """SIGTERM mid-job with a long drain window: the job completes normally, the next queued job is not taken,
    and the worker exits 0 right after the job."""
    settings = make_settings(worker_drain_s=60.0)
    running, waiting = queue_video(num_inference_steps=6), queue_video()
    signal_when(in_stage(ctx, running, {"base"}))
    started = time.monotonic()
    assert run_worker(settings, name="drain", runtime=runtime, maintenance=False) == 0
    assert time.monotonic() - started < 45
    assert "SIGTERM: taking no new jobs; the running video has 60 s to finish" in caplog.text  # it was busy
    record = ctx.records.get(running)
    assert record.status == "completed" and record.attempt == 1, record
    assert ctx.storage.names(running) == ["reference.png", "spritesheet.jpg", "thumbnail.jpg", "video.mp4"]
    assert ctx.records.get(waiting).status == "queued"
    assert ctx.queue.position(waiting, 1, Priority.NORMAL) == 0


def test_a_job_past_the_drain_deadline_is_handed_back_and_runs_again(
    make_settings, runtime, ignore_stray_signals, ctx, queue_video
):
    settings = make_settings(worker_drain_s=0.5)
    vid = queue_video(priority=Priority.HIGH, num_inference_steps=20)
    signal_when(in_stage(ctx, vid, {"reference"}))
    started = time.monotonic()
    assert run_worker(settings, name="first", runtime=runtime, maintenance=False) == 0
    assert time.monotonic() - started < 30
    record = ctx.records.get(vid)
    assert record.status == "queued" and record.attempt == 1, record
    assert record.progress == 0 and record.stage is None and record.worker is None
    assert ctx.storage.names(vid) == []
    assert ctx.queue.depths() == {
        Priority.HIGH: 1,
        Priority.NORMAL: 0,
        Priority.LOW: 0,
    }  # back in its own queue
    assert ctx.queue.position(vid, 1, Priority.HIGH) == 0  # at the front, as a waiting RQ job
    assert Job.fetch(job_id(vid, 1), connection=ctx.redis).get_status() == "queued"
    assert read_finished(ctx.redis, ctx.keys) == {}  # neither failed nor cancelled

    assert run_worker(settings, name="second", burst=True, runtime=runtime, maintenance=False) == 0
    record = ctx.records.get(vid)
    assert record.status == "completed" and record.attempt == 1 and record.worker == "second"
    assert read_finished(ctx.redis, ctx.keys) == {"completed": 1}


def test_a_second_signal_hands_the_job_back_at_once(
    make_settings, runtime, ignore_stray_signals, ctx, queue_video
):
    settings = make_settings(worker_drain_s=600.0)
    vid = queue_video(num_inference_steps=200)
    signal_when(in_stage(ctx, vid, {"reference"}), count=2)
    started = time.monotonic()
    assert run_worker(settings, name="twice", runtime=runtime, maintenance=False) == 0
    assert time.monotonic() - started < 60  # far less than the drain window or the job
    record = ctx.records.get(vid)
    assert record.status == "queued" and record.attempt == 1
    assert ctx.queue.position(vid, 1, Priority.NORMAL) == 0
