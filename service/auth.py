"""Who is calling (API keys from settings; ``Authorization: Bearer <key>`` or ``X-API-Key``) and the per-key
submission rate limit (a fixed one-minute window counted in Redis, shared by all API replicas)."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import redis
import redis.asyncio
from fastapi import Request

from core.context import Context
from core.errors import AuthenticationError, RateLimitedError

PUBLIC_OWNER = "public"  # the owner of every video while auth is off


@dataclass(frozen=True)
class Principal:
    owner: str  # whose videos these are: a digest of the API key, or "public"
    rate_key: str  # what the rate limit counts: the owner, or the client address while auth is off
    may_use_high_priority: bool = False  # a VIDEOGEN_HIGH_PRIORITY_API_KEYS key; anyone while auth is off


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:24]


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def authenticate(request: Request, ctx: Context) -> Principal:
    """The caller's principal; ``AuthenticationError`` for a missing or unknown key while auth is on."""
    if not ctx.settings.auth_enabled:
        client = request.client.host if request.client else "unknown"
        return Principal(owner=PUBLIC_OWNER, rate_key=f"ip:{client}", may_use_high_priority=True)
    key = presented_key(request)
    if key is None:
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
    # Compare against every key so the time taken does not reveal which one nearly matched.
    normal = [hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in ctx.settings.api_keys]
    high = [
        hmac.compare_digest(key.encode(), k.get_secret_value().encode())
        for k in ctx.settings.high_priority_api_keys
    ]
    if not any(normal) and not any(high):
        raise AuthenticationError("invalid API key")
    owner = key_digest(key)
    return Principal(owner=owner, rate_key=owner, may_use_high_priority=any(high))


def rate_window(principal: Principal, ctx: Context, now: float) -> tuple[str, int]:
    """The Redis counter of ``principal``'s one-minute window at ``now`` (unix seconds) and the window's number."""
    window = int(now // 60)
    return ctx.keys.rate(principal.rate_key, window), window


def count_rate(pipe: redis.client.Pipeline | redis.asyncio.client.Pipeline, key: str) -> None:
    """Add counting one submission in window ``key`` to ``pipe`` (two replies: the count, then EXPIRE's)."""
    pipe.incr(key)
    pipe.expire(key, 120)


def check_rate_count(limit: int, count: int, window: int, now: float) -> None:
    """``RateLimitedError`` (with seconds to wait) when ``count`` submissions in ``window`` exceed ``limit``."""
    if count > limit:
        retry_after = max(1, int((window + 1) * 60 - now) + 1)
        raise RateLimitedError(
            f"more than {limit} submissions a minute; retry in {retry_after} s", retry_after=retry_after
        )


def check_rate_limit(ctx: Context, principal: Principal, now: float | None = None) -> None:
    """Count one submission; ``RateLimitedError`` (with seconds to wait) beyond the per-minute limit. (The submit
    path does the same in the pipeline that also reads the queue depths: ``count_rate``, ``check_rate_count``.)"""
    limit = ctx.settings.rate_limit_per_minute
    if limit <= 0:
        return
    now = time.time() if now is None else now
    key, window = rate_window(principal, ctx, now)
    pipe = ctx.redis.pipeline(transaction=True)
    count_rate(pipe, key)
    check_rate_count(limit, int(pipe.execute()[0]), window, now)
