"""SIGTERM on a real worker process mid-job (``docker stop``, a Kubernetes rollout): the worker takes no new job,
gives the running video its drain window, then hands it back: the video is ``queued`` again on the same attempt,
without partial files, and the process exits 0. Another worker then completes it. The drained worker logs JSON,
and every line it wrote while the job ran carries the job id."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time

import pytest
from integration_harness import QUICK, make_api, wait_for, wait_ready
from PIL import Image

from core.media import read_video
from core.queue import job_id

DRAIN_S = 2.0
EXIT_MARGIN_S = 20.0  # handing the job back, RQ's teardown and the interpreter's exit, on 2 busy cores


def test_sigterm_hands_the_running_video_back_and_another_worker_completes_it(
    redis_url, shared_worker, shared_values, start_worker
):
    """The shared worker is kept busy with a long blocker video while a second worker, started for this test,
    takes the video under test; that worker is SIGTERMed mid-job. Cancelling the blocker then frees the shared
    worker, which completes the handed-back video."""
    api = make_api({**shared_values, "max_inference_steps": 500})
    try:
        wait_ready(api)
        ctx = api.app.state.context
        drain_values = {**shared_values, "worker_drain_s": DRAIN_S, "warmup": False, "log_format": "json"}
        draining = start_worker(drain_values, "shared-drain")
        blocker = api.post("/videos", json={**QUICK, "num_frames": 2, "num_inference_steps": 500}).json()
        assert wait_for(api, blocker["id"], {"in_progress"})["id"]
        assert ctx.records.get(blocker["id"]).worker == shared_worker.name
        draining.wait_ready()

        form = {k: str(v) for k, v in {**QUICK, "num_frames": 8, "num_inference_steps": 30}.items()}
        png = io.BytesIO()
        Image.new("RGB", (48, 48), (20, 200, 20)).save(png, format="PNG")
        files = {"reference_image": ("g.png", png.getvalue(), "image/png")}
        vid = api.post("/videos", data=form, files=files).json()["id"]
        while (record := ctx.records.get(vid)).stage not in ("base", "super_resolution"):
            assert record.status in ("queued", "in_progress"), record
            time.sleep(0.02)
        assert record.worker == "shared-drain" and record.attempt == 1, record
        draining.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            code = draining.proc.wait(timeout=DRAIN_S + EXIT_MARGIN_S + 30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker is still running after SIGTERM:\n{draining.log()}")
        exited_after = time.monotonic() - signalled

        handed_back = api.get(f"/videos/{vid}").json()  # what a client sees now
        names = ctx.storage.names(vid)
        api.post(f"/videos/{blocker['id']}/cancel")
        done = wait_for(api, vid, {"completed", "failed", "cancelled"})
    finally:
        api.__exit__(None, None, None)

    assert code == 0, draining.log()
    assert exited_after <= DRAIN_S + EXIT_MARGIN_S, f"exited {exited_after:.1f}s after SIGTERM"
    assert handed_back["status"] == "queued" and handed_back["attempt"] == 1, handed_back
    assert handed_back["progress"] == 0 and handed_back["stage"] is None and handed_back["started_at"] is None
    assert handed_back["queue_position"] == 0 and handed_back["error"] is None
    assert names == ["input.png"]  # no partial output; the client's reference image stays for the rerun
    assert done["status"] == "completed" and done["attempt"] == 1, done
    assert ctx.records.get(vid).worker == shared_worker.name
    frames = read_video(b"".join(ctx.storage.read(vid, "video.mp4")))
    assert frames.shape == (8, 32, 32, 3)

    lines = [json.loads(line) for line in draining.log_path.read_text().splitlines()]  # all JSON
    in_job = [i for i, line in enumerate(lines) if line.get("job_id") == job_id(vid, 1)]
    assert in_job == list(range(in_job[0], in_job[-1] + 1)), "a line inside the job lacks its id"
    messages = [lines[i]["message"] for i in in_job]
    assert any("taking no new jobs" in m for m in messages) and any("handed back" in m for m in messages)
