"""The pipeline callback of a job: every step it checks that the video is still wanted (cooperative cancel) and
that the worker is not shutting down past its drain deadline (``JobInterruptedError``), it writes overall
progress at most every ``interval_s`` (and at the end of every stage), it times the stages, takes their peak
memory (``worker.memory``) and names the current stage in the job's log context."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core.connection import REDIS_DOWN_ERRORS
from core.errors import JobCancelledError, JobInterruptedError
from core.logging import set_log_fields
from core.records import VideoRecords
from core.stages import JOB_STAGES, Stage
from core.video import VideoStatus
from worker.memory import MemoryProbe

logger = logging.getLogger(__name__)

# Stages a shutdown may interrupt: everything before the files are stored (storing them takes moments, and an
# interrupted upload would only have to be undone).
INTERRUPTIBLE = frozenset(JOB_STAGES) - {Stage.UPLOAD}

# During a Redis outage, how often the callback tries Redis again, in seconds (each try may wait for a connect
# timeout, so not on every step).
OUTAGE_PROBE_S = 1.0

# Share of the whole job each stage stands for, in percent (they sum to 100).
STAGE_WEIGHTS: dict[Stage, int] = {
    Stage.REFERENCE: 10,
    Stage.BASE: 40,
    Stage.SUPER_RESOLUTION: 28,
    Stage.TEMPORAL_UPSAMPLING: 5,
    Stage.DECODE: 7,
    Stage.ENCODE: 5,
    Stage.UPLOAD: 5,
}


def overall_percent(stage: str, step: int, total: int) -> int:
    """Progress of the whole job, 0-99 (100 is written only when the video is complete)."""
    done = sum(STAGE_WEIGHTS[s] for s in JOB_STAGES[: JOB_STAGES.index(Stage(stage))])
    fraction = min(1.0, step / total) if total > 0 else 1.0
    return min(99, int(done + STAGE_WEIGHTS[stage] * fraction))


class ProgressTracker:
    """Use as ``pipe(..., callback=tracker)``; call ``tracker(stage, step, total)`` for the worker's own stages."""

    def __init__(
        self,
        records: VideoRecords,
        video_id: str,
        attempt: int,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        interrupt: Callable[[], str | None] | None = None,
        memory: MemoryProbe | None = None,
    ) -> None:
        self.records = records
        self.video_id = video_id
        self.attempt = attempt
        self.interval_s = interval_s
        self.clock = clock
        self.interrupt = interrupt  # a reason to stop now (the worker's drain deadline passed), or None
        self.memory = memory
        self.timings: dict[str, float] = {}
        self.peak_memory: dict[str, int] = {}  # stage -> bytes (the highest, if a stage runs twice)
        self.stage: str | None = None
        self.percent = 0
        self._stage_started = 0.0
        self._last_write = float("-inf")
        self._unwritten = False  # a due progress write was dropped during a Redis outage
        self._down_since: float | None = None  # when a Redis call last failed (None: it answers)

    def __call__(self, stage: str, step: int, total: int) -> None:
        if stage not in STAGE_WEIGHTS:
            raise ValueError(f"unknown stage {stage!r}")
        if self.interrupt is not None and stage in INTERRUPTIBLE and (reason := self.interrupt()) is not None:
            raise JobInterruptedError(reason)
        now = self.clock()
        changed = stage != self.stage
        if changed:
            self._close_stage(now)
            self.stage, self._stage_started = stage, now
            if self.memory is not None:
                self.memory.reset()
            set_log_fields(stage=stage)
            logger.info("video %s: stage %s", self.video_id, stage)
        self.percent = max(self.percent, overall_percent(stage, step, total))
        due = changed or step >= total or self._unwritten or now - self._last_write >= self.interval_s
        if self._down_since is not None and now - self._down_since < OUTAGE_PROBE_S:
            self._unwritten = self._unwritten or due  # Redis was unreachable a moment ago: keep generating
            return
        try:
            if due:
                status = self.records.report_progress(self.video_id, self.attempt, self.percent, stage)
                self._last_write, self._unwritten = now, False
            else:
                status, attempt = self.records.status_of(self.video_id)
                if attempt != self.attempt:
                    status = "superseded"
        except REDIS_DOWN_ERRORS as exc:
            # The job goes on without Redis; the latest progress is written once it answers again.
            if self._down_since is None:
                logger.warning("video %s: progress not written (Redis unreachable: %s)", self.video_id, exc)
            self._down_since, self._unwritten = now, self._unwritten or due
            return
        if self._down_since is not None:
            logger.info("video %s: Redis answers again; progress written", self.video_id)
            self._down_since = None
        if status != VideoStatus.IN_PROGRESS:
            raise JobCancelledError(f"video {self.video_id} is {status or 'deleted'}; stopping")

    def _close_stage(self, now: float) -> None:
        if self.stage is None:
            return
        self.timings[self.stage] = round(self.timings.get(self.stage, 0.0) + now - self._stage_started, 4)
        peak = self.memory.peak() if self.memory is not None else None
        if peak is not None:
            self.peak_memory[self.stage] = max(peak, self.peak_memory.get(self.stage, 0))

    def finish(self) -> dict[str, float]:
        """Close the current stage; returns stage -> seconds (``peak_memory`` holds stage -> bytes)."""
        self._close_stage(self.clock())
        self.stage = None
        set_log_fields(stage=None)
        return self.timings
