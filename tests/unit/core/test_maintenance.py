import time

import redis

from core.context import Context
from core.keys import new_video_id
from core.maintenance import sweep_expired, sweep_lost, sweep_orphans
from core.queue import job_id
from core.records import VideoRecord
from core.video import Priority, VideoParams, VideoStatus


def make_ctx(make_settings, **overrides):
    settings = make_settings(**overrides)
    return Context.build(settings, redis.Redis.from_url(settings.redis_url))


def queued_record(vid, queued_at, attempt=1):
    params = VideoParams(prompt="x", fps=8.0, seed=1)
    return VideoRecord(
        id=vid,
        owner="o",
        status=VideoStatus.QUEUED,
        attempt=attempt,
        created_at=queued_at,
        queued_at=queued_at,
        params=params,
    )


def running_video(ctx, attempt=1):
    vid = new_video_id()
    ctx.records.create(queued_record(vid, time.time(), attempt))
    assert ctx.records.transition(vid, [VideoStatus.QUEUED], VideoStatus.IN_PROGRESS, {"progress": 40}) == 1
    return vid


def test_a_job_with_a_live_heartbeat_is_left_alone(make_settings):
    ctx = make_ctx(make_settings)
    vid = running_video(ctx)
    ctx.redis.set(ctx.keys.heartbeat(vid), "1", px=3000)
    assert sweep_lost(ctx) == 0
    assert ctx.records.get(vid).status == "in_progress"


def test_a_lost_job_is_requeued_at_the_front_as_a_new_attempt(make_settings):
    ctx = make_ctx(make_settings, max_attempts=2)
    ctx.queue.enqueue(new_video_id(), 1, Priority.NORMAL)  # someone else's job already waiting
    vid = running_video(ctx)
    assert sweep_lost(ctx) == 1
    record = ctx.records.get(vid)
    assert (record.status, record.attempt, record.progress, record.stage) == (
        "queued",
        2,
        0,
        None,
    )
    assert ctx.queue.position(vid, 2, Priority.NORMAL) == 0
    assert sweep_lost(ctx) == 0  # handled once
    assert ctx.redis.lpos(ctx.queue.queues[Priority.NORMAL].key, job_id(vid, 2)) == 0


def test_a_job_out_of_attempts_fails_with_worker_lost(make_settings):
    ctx = make_ctx(make_settings, max_attempts=2)
    vid = running_video(ctx, attempt=2)
    assert sweep_lost(ctx) == 1
    record = ctx.records.get(vid)
    assert record.status == "failed" and record.error.code == "worker_lost"
    assert record.expires_at > time.time()
    assert ctx.records.running_ids() == []


def test_expired_videos_lose_files_and_record(make_settings):
    ctx = make_ctx(make_settings, result_ttl_s=1)
    vid = running_video(ctx)
    ctx.storage.put(vid, "video.mp4", b"mp4", "video/mp4")
    assert (
        ctx.records.transition(
            vid, [VideoStatus.IN_PROGRESS], VideoStatus.COMPLETED, expires_at=time.time() + 1
        )
        == 1
    )
    assert sweep_expired(ctx) == 0  # not yet
    assert sweep_expired(ctx, now=time.time() + 2) == 1
    assert ctx.records.get(vid) is None and ctx.storage.names(vid) == []


def queued_video(ctx, queued_at, enqueue):
    vid = new_video_id()
    ctx.records.create(queued_record(vid, queued_at))
    if enqueue:
        ctx.queue.enqueue(vid, 1, Priority.NORMAL)
    return vid


def test_queued_videos_whose_job_went_missing_are_requeued_once(make_settings):
    ctx = make_ctx(make_settings, heartbeat_ttl_s=5.0)
    now = time.time()
    orphan = queued_video(ctx, now - 60, enqueue=False)  # e.g. the API died before enqueueing
    waiting = queued_video(ctx, now - 60, enqueue=True)
    fresh = queued_video(ctx, now, enqueue=False)  # a worker may be starting it right now
    assert sweep_orphans(ctx) == 1
    assert (
        ctx.queue.position(orphan, 1, Priority.NORMAL) == 0
        and ctx.queue.position(waiting, 1, Priority.NORMAL) == 1
    )
    assert ctx.queue.position(fresh, 1, Priority.NORMAL) is None
    assert sweep_orphans(ctx) == 0  # claimed: not requeued twice
    started = ctx.records.transition(orphan, [VideoStatus.QUEUED], VideoStatus.IN_PROGRESS, heartbeat_s=2.0)
    assert started == 1 and ctx.redis.pttl(ctx.keys.heartbeat(orphan)) > 1000
    assert set(ctx.records.queued_ids()) == {waiting, fresh}


def test_the_orphan_sweep_reads_no_record_of_a_video_whose_job_waits(make_settings, monkeypatch):
    ctx = make_ctx(make_settings, heartbeat_ttl_s=5.0)
    now = time.time()
    waiting = [queued_video(ctx, now - 60, enqueue=True) for _ in range(5)]
    orphan = queued_video(ctx, now - 60, enqueue=False)
    reads: list[str] = []
    get = ctx.records.get
    monkeypatch.setattr(ctx.records, "get", lambda vid: reads.append(vid) or get(vid))
    assert sweep_orphans(ctx) == 1
    assert reads == [orphan]  # one read of the queues stood in for the five waiting videos' records
    assert all(ctx.queue.position(v, 1, Priority.NORMAL) is not None for v in waiting)
