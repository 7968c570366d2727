"""What SIGTERM/SIGINT asked of a worker, shared by the signal handler (``worker.queue_worker``) and the running
job (``worker.jobs``, through its progress callback).

- First signal: take no new job; the running job may go on until ``drain_s`` from now.
- Second signal: the running job stops at its next step.
- Third signal: the process exits at once (``SystemExit``), as RQ's cold shutdown does; the lost-job sweep then
  requeues the video as its next attempt.

A job stopped by the drain is *handed back*: its video returns to ``queued`` on the same attempt and the worker
puts its RQ job back at the front of the queue once RQ has finished with it (``take_handed_back``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.video import Priority

COLD_SIGNALS = 3  # the signal count that exits at once


class Shutdown:
    """The shutdown state of one worker process. ``request()`` runs in the signal handler: it only updates
    fields, it never blocks or touches Redis."""

    def __init__(self, drain_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.drain_s = drain_s
        self.clock = clock
        self.signals = 0
        self.deadline: float | None = None
        self._handed_back: list[tuple[str, int, Priority]] = []
        self._lock = threading.Lock()

    @property
    def requested(self) -> bool:
        return self.signals > 0

    def request(self) -> int:
        """Record one more signal; returns how many there have been."""
        self.signals += 1
        now = self.clock()
        self.deadline = now + self.drain_s if self.signals == 1 else now
        return self.signals

    def interrupt_reason(self) -> str | None:
        """Why the running job must stop now, or None while it may go on."""
        if self.deadline is None or self.clock() < self.deadline:
            return None
        if self.signals > 1:
            return "the worker was asked twice to stop"
        return f"the worker is stopping and the video did not finish within {self.drain_s:g} s"

    def hand_back(self, video_id: str, attempt: int, priority: Priority) -> None:
        """Note a job whose video went back to ``queued``: the worker re-enqueues it after the job returns."""
        with self._lock:
            self._handed_back.append((video_id, attempt, priority))

    def take_handed_back(self) -> list[tuple[str, int, Priority]]:
        with self._lock:
            taken, self._handed_back = self._handed_back, []
        return taken
