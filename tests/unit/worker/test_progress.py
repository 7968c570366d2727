import pytest

from core.errors import JobCancelledError
from core.lifecycle import finish
from core.video import STAGES, VideoStatus
from worker.progress import STAGE_WEIGHTS, ProgressTracker, overall_percent


def test_weights_cover_every_stage_and_sum_to_100():
    assert set(STAGE_WEIGHTS) == set(STAGES) and sum(STAGE_WEIGHTS.values()) == 100


def test_overall_percent_rises_through_the_stages():
    seen = [overall_percent(stage, step, 4) for stage in STAGES for step in range(5)]
    assert seen == sorted(seen) and seen[0] == 0 and seen[-1] == 99


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_tracker_throttles_writes_times_stages_and_stops_when_cancelled(ctx, queue_video):
    vid = queue_video()
    ctx.records.transition(vid, [VideoStatus.QUEUED], VideoStatus.IN_PROGRESS, attempt=1)
    clock = FakeClock()
    tracker = ProgressTracker(ctx.records, vid, 1, interval_s=10.0, clock=clock)
    tracker("base", 1, 10)  # stage change: written
    assert ctx.records.get(vid).progress == overall_percent("base", 1, 10)
    clock.now = 1.0
    tracker("base", 5, 10)  # within the interval: not written
    assert ctx.records.get(vid).progress == overall_percent("base", 1, 10)
    clock.now = 2.5
    tracker("base", 10, 10)  # last step of a stage: always written
    assert ctx.records.get(vid).progress == overall_percent("base", 10, 10)
    clock.now = 3.0
    tracker("decode", 1, 1)
    assert tracker.finish() == {"base": 3.0, "decode": 0.0}
    assert finish(ctx, vid, VideoStatus.CANCELLED, [VideoStatus.IN_PROGRESS])
    with pytest.raises(JobCancelledError):
        tracker("decode", 1, 1)  # checked every step, written or not
