"""Worker presence: announced with a TTL and listed through the registry set in one round trip."""

import time

import redis

from core.context import Context
from core.lifecycle import current_capabilities, live_workers, publish_worker
from core.params import TINY_PRESET_CAPABILITIES
from core.video import Priority


def test_live_workers_lists_unexpired_presences_and_prunes_the_registry(make_settings):
    settings = make_settings()
    ctx = Context.build(settings, redis.Redis.from_url(settings.redis_url))
    publish_worker(ctx, "long", TINY_PRESET_CAPABILITIES, busy=None, ttl_s=30)
    publish_worker(ctx, "brief", TINY_PRESET_CAPABILITIES, busy="v1", ttl_s=30, priorities=[Priority.HIGH])
    publish_worker(ctx, "stopped", TINY_PRESET_CAPABILITIES, busy=None, ttl_s=30)
    ctx.redis.delete(ctx.keys.worker("stopped"))  # what a worker's shutdown does
    for n in range(200):  # other keys do not make the read any longer: it never scans the keyspace
        ctx.redis.set(f"{settings.key_prefix}:video:{n}", "x")
    assert {w["name"] for w in live_workers(ctx)} == {"long", "brief"}
    # Its TTL runs out now: no race with a slow host's writes above.
    ctx.redis.pexpire(ctx.keys.worker("brief"), 1)
    time.sleep(0.02)
    workers = live_workers(ctx)
    assert [w["name"] for w in workers] == ["long"] and workers[0]["priorities"] == ["high", "normal", "low"]
    assert ctx.redis.smembers(ctx.keys.workers) == {b"long"}  # the expired and stopped names left the set
    assert current_capabilities(ctx) == TINY_PRESET_CAPABILITIES
    ctx.redis.delete(ctx.keys.worker("long"))
    assert live_workers(ctx) == [] and current_capabilities(ctx) is None
