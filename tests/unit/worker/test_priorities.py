"""A real worker (``run_worker``, RQ's loop, the tiny model) over the priority queues: it takes high before
normal before low whatever the order of submission, and a worker serving only ``high`` leaves the rest."""

import pytest

from core.maintenance import sweep_lost
from core.settings import Settings
from core.video import Priority, VideoStatus
from worker.main import run_worker


def started_order(ctx, ids):
    return sorted(ids, key=lambda vid: ctx.records.get(vid).started_at)


def test_a_worker_takes_the_highest_priority_first(make_settings, runtime, ctx, queue_video):
    low = queue_video(priority=Priority.LOW)
    normal = queue_video()
    high = queue_video(priority=Priority.HIGH)
    assert run_worker(make_settings(), name="all", burst=True, runtime=runtime, maintenance=False) == 0
    assert all(ctx.records.get(v).status == "completed" for v in (low, normal, high))
    assert started_order(ctx, [low, normal, high]) == [high, normal, low]


def test_a_worker_serves_only_its_priorities(make_settings, runtime, ctx, queue_video):
    normal, high = queue_video(), queue_video(priority=Priority.HIGH)
    settings = make_settings(worker_priorities=[Priority.HIGH])
    assert run_worker(settings, name="fast-lane", burst=True, runtime=runtime, maintenance=False) == 0
    assert ctx.records.get(high).status == "completed"
    assert ctx.records.get(normal).status == "queued"
    assert ctx.queue.position(normal, 1, Priority.NORMAL) == 0


def test_a_lost_job_is_requeued_at_its_own_priority(ctx, queue_video):
    vid = queue_video(priority=Priority.LOW)
    ctx.queue.withdraw(vid, 1, Priority.LOW)  # a worker took it ...
    ctx.records.transition(vid, [VideoStatus.QUEUED], VideoStatus.IN_PROGRESS, attempt=1)  # ... and died
    assert sweep_lost(ctx) == 1
    assert ctx.queue.position(vid, 2, Priority.LOW) == 0
    assert ctx.queue.depths() == {Priority.HIGH: 0, Priority.NORMAL: 0, Priority.LOW: 1}


def test_worker_priorities_setting(monkeypatch):
    monkeypatch.setenv("VIDEOGEN_WORKER_PRIORITIES", "high, normal")
    assert Settings().worker_priorities == [Priority.HIGH, Priority.NORMAL]
    for bad, message in (("high,high", "twice"), ("", "at least one"), ("urgent", "high")):
        monkeypatch.setenv("VIDEOGEN_WORKER_PRIORITIES", bad)
        with pytest.raises(ValueError, match=message):
            Settings()
