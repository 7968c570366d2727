"""A job run by the real worker loop (``run_worker``: RQ's SimpleWorker, this process, the tiny model) logs JSON
lines that all carry its job id: the worker's own lines, the progress lines, RQ's lines about the job and a
library's line from inside the pipeline."""

import json
import logging

from core.queue import job_id
from core.video import STAGES
from worker.main import run_worker
from worker.runtime import Runtime


class LibraryLogging:
    """The real pipeline, plus a log line from a third-party logger while it runs (as diffusers or torch do)."""

    def __init__(self, pipe):
        self.pipe = pipe

    def __call__(self, *args, **kwargs):
        logging.getLogger("diffusers.pipelines.some_module").warning("a library speaks")
        return self.pipe(*args, **kwargs)


def test_every_line_logged_while_a_job_runs_carries_its_job_id(make_settings, runtime, queue_video, json_log):
    vid = queue_video(num_frames=4, temporal_upsampling=1)
    pipeline = Runtime(LibraryLogging(runtime.pipeline), runtime.capabilities, "cpu", runtime.backends)
    assert run_worker(make_settings(), name="logs", burst=True, runtime=pipeline, maintenance=False) == 0

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    in_job = [i for i, line in enumerate(lines) if line.get("job_id") == job_id(vid, 1)]
    assert in_job, lines
    # One unbroken run of lines: nothing logged between the job's first and last line lacks its id.
    assert in_job == list(range(in_job[0], in_job[-1] + 1))
    job_lines = [lines[i] for i in in_job]
    assert all(line["video_id"] == vid and line["attempt"] == 1 for line in job_lines)
    loggers = {line["logger"] for line in job_lines}
    assert {"worker.jobs", "worker.progress", "rq.worker", "diffusers.pipelines.some_module"} <= loggers
    messages = [line["message"] for line in job_lines]
    assert any(" attempt 1 started: " in m for m in messages)
    assert any("completed in" in m for m in messages) and any("Job OK" in m for m in messages)
    stages = {line["stage"] for line in job_lines if line["logger"] == "worker.progress"}
    assert stages == set(STAGES)
    # Outside the job: the worker's start and end; RQ's dequeue line announces the job just before its context.
    before, after = lines[: in_job[0]], lines[in_job[-1] + 1 :]
    assert any("model ready" in line["message"] for line in before)
    assert any(line["logger"] == "rq.worker" and f"({job_id(vid, 1)})" in line["message"] for line in before)
    assert all("job_id" not in line for line in before + after)
    assert [line["message"] for line in before + after if vid in line["message"]] == [
        f"Worker logs: videogen: generate {vid} (attempt 1) ({job_id(vid, 1)})"
    ]
