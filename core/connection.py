"""Redis clients. The API's client fails fast (a short timeout, no retry loop) so a Redis outage becomes a
prompt 503; the worker's client has no read timeout because RQ blocks on the queue for minutes."""

from __future__ import annotations

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

CONNECT_TIMEOUT_S = 2.0
API_READ_TIMEOUT_S = 5.0

# Errors that mean "Redis is unreachable or went away", as opposed to a bad command.
REDIS_DOWN_ERRORS: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)


def api_redis(url: str) -> redis.Redis:
    """A client for request handlers: a prompt error when Redis is down, one reconnect attempt otherwise."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=API_READ_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
        decode_responses=False,
    )


def worker_redis(url: str) -> redis.Redis:
    """A client for the RQ worker loop (long blocking reads)."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, retry=Retry(NoBackoff(), 1), health_check_interval=30
    )


def api_async_redis(url: str) -> redis.asyncio.Redis:
    """The API's client for the submit path's round trips on the event loop (no threadpool hop), with the same
    fail-fast timeouts as ``api_redis``. Its connections belong to the event loop that first uses them."""
    return redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=API_READ_TIMEOUT_S,
        retry=AsyncRetry(NoBackoff(), 1),
        health_check_interval=30,
        decode_responses=False,
    )
