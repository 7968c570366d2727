"""The submit write path: record and RQ job land together in one MULTI (or neither does), and the live model's
capabilities are cached briefly, but "no worker" is not."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio
from rq.job import Job

from core.lifecycle import publish_worker
from core.queue import job_id
from service.submission import CapabilitiesCache


def test_record_and_job_are_written_together(client):
    ctx = client.app.state.context
    response = client.post("/videos", json={"prompt": "x"})
    assert response.status_code == 202
    vid = response.json()["id"]
    assert ctx.records.get(vid).status == "queued"
    job = Job.fetch(job_id(vid, 1), connection=ctx.redis)
    assert tuple(job.args) == (vid, 1) and job.func_name == "worker.jobs.generate_video"
    assert ctx.queue.depth() == 1


def test_a_failed_multi_leaves_neither_record_nor_job(client, monkeypatch):
    ctx = client.app.state.context

    real_execute = redis.asyncio.client.Pipeline.execute
    sent = []

    async def broken(self, *args, **kwargs):
        commands = [c[0][0] for c in self.command_stack]
        if "HSET" not in commands:  # the rate limit's and the depth check's pipeline goes through
            return await real_execute(self, *args, **kwargs)
        sent.append((self.is_transaction, commands))
        raise redis.ConnectionError("Redis went away mid-submit")

    monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", broken)
    response = client.post("/videos", json={"prompt": "x"})
    monkeypatch.undo()
    assert response.status_code == 503 and response.json()["error"]["code"] == "redis_unavailable"
    ((transaction, commands),) = sent  # one MULTI held the record's and the job's writes
    assert transaction and {"HSET", "SADD", "ZADD", "RPUSH"} <= set(commands), commands
    assert ctx.queue.depth() == 0 and not ctx.redis.keys("*:video:*") and not ctx.redis.keys("rq:job:*")


def test_a_submit_is_two_round_trips_with_the_position_from_the_multi(client, tiny_capabilities, monkeypatch):
    """The rate-limit count and the depths in one pipeline, then the MULTI, whose queue lengths answer the new
    job's position (no third read, no sync client on the way while the capabilities are cached)."""
    ctx = client.app.state.context
    publish_worker(ctx, "w1", tiny_capabilities, busy=None, ttl_s=30)
    client.post("/videos", json={"prompt": "x", "priority": "high"})  # ahead of every normal job
    client.post("/videos", json={"prompt": "x"})
    real_async = redis.asyncio.client.Pipeline.execute
    real_sync = redis.client.Pipeline.execute
    sent = []

    async def counted(self, *args, **kwargs):
        sent.append([c[0][0] for c in self.command_stack])
        return await real_async(self, *args, **kwargs)

    def sync_counted(self, *args, **kwargs):
        sent.append(("sync", [c[0][0] for c in self.command_stack]))
        return real_sync(self, *args, **kwargs)

    monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", counted)
    monkeypatch.setattr(redis.client.Pipeline, "execute", sync_counted)
    real_command = redis.Redis.execute_command
    monkeypatch.setattr(
        redis.Redis, "execute_command", lambda self, *a, **k: sent.append(a) or real_command(self, *a, **k)
    )
    response = client.post("/videos", json={"prompt": "x"})
    monkeypatch.undo()
    assert response.status_code == 202
    assert response.json()["queue_position"] == 2  # the high job, the earlier normal one
    assert len(sent) == 2, sent
    assert sent[0] == ["INCRBY", "EXPIRE", "LLEN", "LLEN"]  # rate limit on (tests' default), high then normal
    assert {"HSET", "SADD", "ZADD", "RPUSH"} <= set(sent[1]) and sent[1][-2:] == ["LLEN", "LLEN"]
    video = client.get(f"/videos/{response.json()['id']}").json()
    assert video["queue_position"] == 2  # the same as a later read says
    assert ctx.queue.depth() == 3


def test_capabilities_are_cached_but_no_worker_is_not(client, tiny_capabilities, monkeypatch):
    ctx = client.app.state.context
    cache = CapabilitiesCache(ttl_s=60)
    assert cache.get(ctx) is None
    publish_worker(ctx, "w1", tiny_capabilities, busy=None, ttl_s=30)
    assert cache.get(ctx) == tiny_capabilities  # "no worker" was not kept
    calls = []
    monkeypatch.setattr("service.submission.current_capabilities", lambda c: calls.append(c))
    assert cache.get(ctx) == tiny_capabilities and calls == []  # served from the cache
    expired = CapabilitiesCache(ttl_s=0)
    publish_worker(ctx, "w1", tiny_capabilities, busy=None, ttl_s=30)
    assert expired.get(ctx) is None and len(calls) == 1  # ttl 0: read again each time


@pytest.mark.parametrize("priority", ["low", "normal", "high"])
def test_each_priority_enqueues_through_the_multi(client, priority):
    response = client.post("/videos", json={"prompt": "x", "priority": priority})
    assert response.status_code == 202 and response.json()["queue_position"] == 0
