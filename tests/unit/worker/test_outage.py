"""Riding out a Redis outage: the progress callback keeps the job going and writes the latest value once Redis is
back; the final write is retried with backoff for a bounded time."""

from __future__ import annotations

import pytest
import redis

from core.video import VideoStatus
from worker.outage import backoff_delays, retry_redis
from worker.progress import OUTAGE_PROBE_S, ProgressTracker, overall_percent


class FlakyRecords:
    """The real records, with Redis 'down' (ConnectionError) while ``down`` is set."""

    def __init__(self, records):
        self.records, self.down, self.calls = records, False, 0

    def __getattr__(self, name):
        method = getattr(self.records, name)

        def call(*args, **kwargs):
            self.calls += 1
            if self.down:
                raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")
            return method(*args, **kwargs)

        return call


def test_progress_during_an_outage_is_dropped_then_the_latest_written(ctx, queue_video):
    vid = queue_video()
    ctx.records.transition(vid, [VideoStatus.QUEUED], VideoStatus.IN_PROGRESS, attempt=1)
    now = [0.0]
    flaky = FlakyRecords(ctx.records)
    tracker = ProgressTracker(flaky, vid, 1, interval_s=0.0, clock=lambda: now[0])
    tracker("base", 1, 10)
    flaky.down = True
    tracker("base", 5, 10)  # raises nothing: the job goes on
    calls = flaky.calls
    now[0] = OUTAGE_PROBE_S / 2
    tracker("base", 8, 10)  # within the probe interval: Redis is not even tried
    assert flaky.calls == calls
    flaky.down = False
    now[0] = OUTAGE_PROBE_S * 1.5
    assert ctx.records.get(vid).progress == overall_percent("base", 1, 10)
    tracker("base", 9, 10)
    assert ctx.records.get(vid).progress == overall_percent("base", 9, 10)  # the latest, once it answers


def test_retry_redis_waits_out_an_outage_with_backoff():
    slept, failures = [], [3]

    def write():
        if failures[0]:
            failures[0] -= 1
            raise redis.TimeoutError("Timeout reading from socket")
        return 1

    assert retry_redis("completing", write, budget_s=60, sleep=slept.append) == 1
    assert slept == [0.2, 0.4, 0.8]


def test_retry_redis_gives_up_after_its_budget():
    now, slept = [0.0], []

    def sleep(s):
        slept.append(s)
        now[0] += s

    def write():
        raise redis.ConnectionError("down")

    with pytest.raises(redis.ConnectionError):
        retry_redis("completing", write, budget_s=10, sleep=sleep, clock=lambda: now[0])
    assert slept == [0.2, 0.4, 0.8, 1.6, 3.2]  # the next wait (5 s) would pass the 10 s budget


def test_retry_redis_does_not_retry_other_errors():
    def write():
        raise redis.ResponseError("WRONGTYPE")

    with pytest.raises(redis.ResponseError):
        retry_redis("completing", write, sleep=lambda s: pytest.fail("retried"))


def test_backoff_doubles_to_its_cap():
    delay = backoff_delays(0.5, 3.0)
    assert [delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
