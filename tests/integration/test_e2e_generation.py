"""End to end: the API, the real Redis and a real worker process running the tiny model."""

from __future__ import annotations

import io
import json
import time

import numpy as np
from integration_harness import QUICK, WEBHOOK_SECRET, make_api, wait_for
from PIL import Image

from core.media import read_video
from core.video import STAGES
from core.webhooks import verify


def test_submit_poll_download_with_progress_variants_and_webhook(api, webhook_receiver):
    created = api.post(
        "/videos", json={**QUICK, "webhook_url": webhook_receiver.url, "metadata": {"run": "e2e"}}
    )
    assert created.status_code == 202, created.text
    video = created.json()
    assert video["status"] in ("queued", "in_progress") and video["params"]["seed"] == 11
    seen = []
    while video["status"] not in ("completed", "failed", "cancelled"):
        video = api.get(f"/videos/{video['id']}").json()
        seen.append((video["status"], video["progress"], video["stage"]))
        time.sleep(0.02)
    assert video["status"] == "completed", video
    running = [p for status, p, _ in seen if status == "in_progress"]
    assert running and running == sorted(running) and len(set(running)) >= 3  # progress rose while running
    stages = [STAGES.index(s) for _, _, s in seen if s]
    assert stages == sorted(stages) and len(set(stages)) >= 3  # stages went by in order
    assert video["progress"] == 100 and video["started_at"] and video["completed_at"] and video["expires_at"]
    assert video["params"]["num_frames"] == 4 and video["params"]["size"] == "32x32"
    assert set(video["timings"]) >= {"reference", "base", "super_resolution", "decode", "encode", "upload"}
    assert video["backends"]["base"] and video["metadata"] == {"run": "e2e"}

    mp4 = api.get(video["links"]["content"])
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    assert int(mp4.headers["content-length"]) == len(mp4.content) and mp4.headers["accept-ranges"] == "bytes"
    assert read_video(mp4.content).shape == (4, 32, 32, 3)
    part = api.get(video["links"]["content"], headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == mp4.content[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(mp4.content)}"
    tail = api.get(video["links"]["content"], headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == mp4.content[-16:]
    beyond = api.get(video["links"]["content"], headers={"Range": f"bytes={len(mp4.content)}-"})
    assert beyond.status_code == 416 and beyond.json()["error"]["code"] == "range_not_satisfiable"

    thumb = api.get(video["links"]["thumbnail"])
    assert (
        thumb.headers["content-type"] == "image/jpeg"
        and Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    )
    ref = api.get(video["links"]["reference"])
    assert ref.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(ref.content)).size == (32, 32)

    # the webhook: a Standard Webhooks envelope around the object GET returns, signed per the spec
    (headers, body), *_ = webhook_receiver.wait(1)
    assert verify(WEBHOOK_SECRET, headers, body)
    delivered = json.loads(body)
    assert delivered["type"] == "video.completed" and delivered["timestamp"].endswith("Z")
    assert delivered["data"] == api.get(f"/videos/{video['id']}").json()

    metrics = api.get("/metrics").text
    assert 'videogen_jobs_finished_total{code="",status="completed"} 1.0' in metrics
    assert 'videogen_stage_duration_seconds_count{stage="base"} 1.0' in metrics


def test_same_seed_same_video_and_reference_image_to_video(api):
    """Image + text to video (multipart upload), and reproducibility: equal parameters give equal frames."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (240, 20, 20)).save(buffer, format="PNG")
    form = {k: str(v) for k, v in QUICK.items()}
    first = api.post(
        "/videos", data=form, files={"reference_image": ("red.png", buffer.getvalue(), "image/png")}
    )
    second = api.post(
        "/videos", data=form, files={"reference_image": ("red.png", buffer.getvalue(), "image/png")}
    )
    assert first.status_code == second.status_code == 202, first.text
    done = [wait_for(api, r.json()["id"], {"completed", "failed"}) for r in (first, second)]
    assert [v["status"] for v in done] == ["completed", "completed"], done
    reference = np.asarray(Image.open(io.BytesIO(api.get(done[0]["links"]["reference"]).content)))
    assert reference[..., 0].mean() > 200 and reference[..., 1].mean() < 50  # the client's red image, resized
    videos = [read_video(api.get(v["links"]["content"]).content) for v in done]
    assert np.array_equal(videos[0], videos[1])


def test_prefer_wait_list_and_delete(api):
    response = api.post("/videos", json=QUICK, headers={"Prefer": "wait=60"})
    assert response.status_code == 200, response.text
    video = response.json()
    assert video["status"] == "completed" and response.headers["preference-applied"] == "wait=60"
    listed = api.get("/videos", params={"status": "completed"}).json()
    assert [v["id"] for v in listed["data"]] == [video["id"]]
    assert api.delete(f"/videos/{video['id']}").json()["deleted"] is True
    assert api.get(f"/videos/{video['id']}").status_code == 404
    assert api.get(video["links"]["content"]).status_code == 404
    assert api.app.state.context.storage.names(video["id"]) == []


def test_cancel_queued_and_running_then_the_worker_goes_on(api):
    slow = {**QUICK, "num_inference_steps": 60, "num_frames": 8}
    running = api.post("/videos", json=slow).json()
    queued = api.post("/videos", json=QUICK).json()
    wait_for(api, running["id"], {"in_progress"})
    assert api.get(f"/videos/{queued['id']}").json()["queue_position"] == 0
    assert api.post(f"/videos/{queued['id']}/cancel").json()["status"] == "cancelled"
    cancelled_at = time.monotonic()
    assert api.post(f"/videos/{running['id']}/cancel").json()["status"] == "cancelled"
    ctx = api.app.state.context
    deadline = time.monotonic() + 60
    while ctx.records.running_ids() or ctx.redis.exists(ctx.keys.heartbeat(running["id"])):
        assert time.monotonic() < deadline, "the worker did not stop the cancelled job"
        time.sleep(0.05)
    stopped_after = time.monotonic() - cancelled_at
    assert ctx.storage.names(running["id"]) == [] and ctx.storage.names(queued["id"]) == []
    final = api.get(f"/videos/{running['id']}").json()
    assert final["status"] == "cancelled" and final["progress"] < 90
    # the worker is free again: a new job completes
    after = api.post("/videos", json=QUICK, headers={"Prefer": "wait=60"}).json()
    assert after["status"] == "completed", after
    assert stopped_after < 30


def test_job_timeout_fails_with_timeout_and_the_worker_goes_on(api, shared_values):

    strict = make_api({**shared_values, "job_timeout_s": 1})
    try:
        video = strict.post("/videos", json={**QUICK, "num_inference_steps": 100, "num_frames": 8}).json()
        failed = wait_for(strict, video["id"], {"failed", "completed"})
    finally:
        strict.__exit__(None, None, None)
    assert failed["status"] == "failed" and failed["error"]["code"] == "timeout", failed
    assert "1 s" in failed["error"]["message"]
    assert api.post("/videos", json=QUICK, headers={"Prefer": "wait=60"}).json()["status"] == "completed"
