"""Redis (append-only) restarts under a busy worker with a queue of videos: the running job keeps generating
through the outage and completes on its first attempt, the queued ones follow, nothing fails, and the same worker
process serves before and after. Uses its own Redis server on a free port, never the shared one."""

from __future__ import annotations

import time

from integration_harness import BASE, QUICK, WorkerProcess, make_api, wait_for

from core.local_redis import free_port, start_redis

OUTAGE_S = 3.0
VIDEOS = 3


def test_a_busy_worker_rides_out_a_redis_restart(tmp_path):
    port = free_port()
    server, _ = start_redis(tmp_path, port)
    values = {
        **BASE,
        "redis_url": f"redis://127.0.0.1:{port}/0",
        "data_dir": tmp_path / "data",
        "heartbeat_ttl_s": 10.0,
    }
    worker = WorkerProcess(values, "outage-worker", tmp_path)
    api = make_api(values)
    try:
        worker.wait_ready()
        ctx = api.app.state.context
        body = {**QUICK, "num_frames": 8, "num_inference_steps": 16}
        ids = [api.post("/videos", json=body).json()["id"] for _ in range(VIDEOS)]
        while (record := ctx.records.get(ids[0])).progress < 10:  # well into the first job
            assert record.status in ("queued", "in_progress"), record
            time.sleep(0.02)
        server.terminate()  # SIGTERM: Redis flushes its append-only file and exits
        server.wait(timeout=20)
        time.sleep(OUTAGE_S)
        assert worker.proc.poll() is None, worker.log()
        server, _ = start_redis(tmp_path, port)
        done = [wait_for(api, video_id, {"completed", "failed"}, timeout_s=120) for video_id in ids]
        served_by = {ctx.records.get(video_id).worker for video_id in ids}
    finally:
        api.__exit__(None, None, None)
        worker.stop()
        server.terminate()
        server.wait(timeout=20)
    log = worker.log_path.read_text(errors="replace")
    assert [video["status"] for video in done] == ["completed"] * VIDEOS, (done, log)
    assert done[0]["attempt"] == 1, done[0]  # the job that ran through the outage was never retried
    assert "progress not written (Redis unreachable" in log, log  # the outage did hit the running job
    assert "internal_error" not in log and "Traceback" not in log, log
    assert worker.proc.returncode == 0, log  # it served to the end and stopped on SIGTERM, not by crashing
    assert served_by == {"outage-worker"}
