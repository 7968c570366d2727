"""Riding out a Redis outage inside a job: the writes that must land (the final compare-and-set) are retried
with capped exponential backoff for a bounded time; the ones that may be lost (throttled progress) are dropped
by their caller, which keeps the latest value for the next write."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from core.connection import REDIS_DOWN_ERRORS

logger = logging.getLogger(__name__)

T = TypeVar("T")

OUTAGE_RETRY_S = 120.0  # how long a job's final write waits for Redis before giving up
FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0


def backoff_delays(first_s: float = FIRST_BACKOFF_S, cap_s: float = MAX_BACKOFF_S) -> Callable[[], float]:
    """A function returning the next wait in seconds: ``first_s``, doubled each call, at most ``cap_s``."""
    state = {"next": first_s}

    def delay() -> float:
        current = state["next"]
        state["next"] = min(cap_s, current * 2)
        return current

    return delay


def retry_redis(
    what: str,
    call: Callable[[], T],
    budget_s: float = OUTAGE_RETRY_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``call()``, retried while it raises a Redis connection or timeout error, for up to ``budget_s`` seconds
    (backoff 0.2 s doubling to 5 s); the last error is re-raised once the budget is spent. ``what`` names the
    write in the log."""
    deadline = clock() + budget_s
    delay = backoff_delays()
    while True:
        try:
            return call()
        except REDIS_DOWN_ERRORS as exc:
            wait_s = delay()
            if clock() + wait_s > deadline:
                logger.error("%s: Redis still unreachable after %.0f s: %s", what, budget_s, exc)
                raise
            logger.warning("%s: Redis unreachable (%s); retrying in %.1f s", what, exc, wait_s)
            sleep(wait_s)
