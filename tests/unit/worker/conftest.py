import time

import pytest
import redis

from core.context import Context
from core.keys import new_video_id
from core.records import VideoRecord
from core.stages import PIPELINE_STAGES
from core.video import Priority, VideoParams, VideoStatus
from worker.runtime import Runtime

# Small and fast: 2 frames at 32x32, one step, no temporal upsampling.
FAST = {
    "num_frames": 2,
    "size": "32x32",
    "num_inference_steps": 1,
    "guidance_scale": 3.0,
    "temporal_upsampling": 0,
}


@pytest.fixture
def runtime(tiny_pipeline):
    """The session's tiny pipeline as a worker runtime (what ``load_runtime`` builds, without reloading)."""
    from core.params import Capabilities

    caps = Capabilities(
        model="tiny",
        defaults=tiny_pipeline.generation_defaults(),
        size_multiple=tiny_pipeline.size_multiple,
        max_base_frames=tiny_pipeline.config.max_base_frames,
    )
    return Runtime(tiny_pipeline, caps, "cpu", dict.fromkeys(PIPELINE_STAGES, "torch"))


@pytest.fixture
def ctx(make_settings):
    settings = make_settings()
    return Context.build(settings, redis.Redis.from_url(settings.redis_url))


@pytest.fixture
def queue_video(ctx):
    """``queue_video(priority=Priority.NORMAL, **params)``: a queued record (and RQ job) as ``POST /videos`` makes
    it; returns its id."""

    def make(priority: Priority = Priority.NORMAL, **params):
        vid = new_video_id()
        values = {"prompt": "a red ball moving right", "fps": 8.0, "seed": 7, **FAST, **params}
        ctx.records.create(
            VideoRecord(
                id=vid,
                owner="o",
                status=VideoStatus.QUEUED,
                priority=priority,
                created_at=time.time(),
                params=VideoParams(**values),
            )
        )
        ctx.queue.enqueue(vid, 1, priority)
        return vid

    return make
