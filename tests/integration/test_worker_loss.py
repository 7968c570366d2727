"""A worker SIGKILLed mid-job never loses the job: its heartbeat lapses, a sweeper requeues the job as a new
attempt and another worker completes it, within heartbeat TTL + sweep interval (+ scheduling slack)."""

from __future__ import annotations

import time

from integration_harness import QUICK, WORKER_START_TIMEOUT_S, make_api, wait_for, wait_ready

from core.media import read_video


def test_sigkilled_worker_job_is_retried_on_another_worker(redis_url, shared_worker, fleet, shared_values):
    """Runs last (file order): the job starts on the shared worker, a second worker starts loading, the first is
    SIGKILLed mid-job and the second completes the job."""
    values = shared_values
    api = make_api(values)
    try:
        wait_ready(api)
        ctx = api.app.state.context
        video = api.post("/videos", json={**QUICK, "num_frames": 8, "num_inference_steps": 12}).json()
        wait_for(api, video["id"], {"in_progress"})
        survivor = fleet.start("shared-b")
        while (record := ctx.records.get(video["id"])).progress < 15:  # well into the job
            assert record.status == "in_progress", record
            time.sleep(0.02)
        assert record.worker == shared_worker.name
        shared_worker.kill()
        killed_at = time.monotonic()
        while ctx.records.get(video["id"]).attempt < 2:
            assert time.monotonic() - killed_at < 60, "the lost job was never noticed"
            time.sleep(0.05)
        noticed_after = time.monotonic() - killed_at
        done = wait_for(api, video["id"], {"completed", "failed"}, timeout_s=WORKER_START_TIMEOUT_S + 60)
    finally:
        api.__exit__(None, None, None)
    bound = values["heartbeat_ttl_s"] + values["maintenance_interval_s"]
    assert noticed_after <= bound + 5.0, f"requeued after {noticed_after:.1f}s, bound {bound}s"
    assert done["status"] == "completed" and done["attempt"] == 2, done
    assert ctx.records.get(video["id"]).worker == survivor.name
    frames = read_video(b"".join(ctx.storage.read(video["id"], "video.mp4")))
    assert frames.shape == (8, 32, 32, 3)
