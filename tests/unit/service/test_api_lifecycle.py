"""Queued-side lifecycle through the API without a worker: cancel, delete, listing, waiting, options, metrics."""

import time

from core.lifecycle import publish_worker
from core.queue import job_id
from core.video import Priority


def test_cancel_a_queued_video_takes_it_off_the_queue(client):
    ctx = client.app.state.context
    first = client.post("/videos", json={"prompt": "one"}).json()
    second = client.post("/videos", json={"prompt": "two"}).json()
    assert (first["queue_position"], second["queue_position"]) == (0, 1)
    cancelled = client.post(f"/videos/{first['id']}/cancel")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["completed_at"] and body["expires_at"]
    assert body["queue_position"] is None
    assert ctx.queue.position(first["id"], 1, Priority.NORMAL) is None
    assert client.get(f"/videos/{second['id']}").json()["queue_position"] == 0
    assert client.post(f"/videos/{first['id']}/cancel").json()["status"] == "cancelled"  # idempotent
    assert client.get(f"/videos/{first['id']}/content").json()["error"]["code"] == "not_ready"


def test_terminal_states_never_change(client):
    ctx = client.app.state.context
    vid = client.post("/videos", json={"prompt": "x"}).json()["id"]
    from core.lifecycle import finish
    from core.video import VideoStatus

    assert finish(ctx, vid, VideoStatus.FAILED, [VideoStatus.QUEUED])
    refused = client.post(f"/videos/{vid}/cancel")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_cancellable"
    assert client.get(f"/videos/{vid}").json()["status"] == "failed"


def test_delete_needs_a_finished_video_and_removes_everything(client):
    ctx = client.app.state.context
    vid = client.post("/videos", json={"prompt": "x"}).json()["id"]
    refused = client.delete(f"/videos/{vid}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_finished"
    client.post(f"/videos/{vid}/cancel")
    ctx.storage.put(vid, "thumbnail.jpg", b"jpg", "image/jpeg")
    deleted = client.delete(f"/videos/{vid}")
    assert deleted.json() == {"id": vid, "object": "video.deleted", "deleted": True}
    assert client.get(f"/videos/{vid}").status_code == 404
    assert ctx.storage.names(vid) == [] and ctx.records.get(vid) is None
    assert ctx.redis.zscore(ctx.keys.expiry, vid) is None


def test_list_pages_newest_first_with_status_filter(client):
    ids = [client.post("/videos", json={"prompt": f"p{i}"}).json()["id"] for i in range(5)]
    client.post(f"/videos/{ids[1]}/cancel")
    page = client.get("/videos", params={"limit": 2}).json()
    assert page["object"] == "list" and [v["id"] for v in page["data"]] == [ids[4], ids[3]]
    assert page["has_more"] and page["next_cursor"] == ids[3]
    rest = client.get("/videos", params={"limit": 10, "after": page["next_cursor"]}).json()
    assert [v["id"] for v in rest["data"]] == [ids[2], ids[1], ids[0]] and not rest["has_more"]
    queued = client.get("/videos", params={"status": "queued"}).json()["data"]
    assert [v["id"] for v in queued] == [ids[4], ids[3], ids[2], ids[0]]
    assert [v["queue_position"] for v in queued] == [3, 2, 1, 0]


def test_prefer_wait_returns_the_current_state_when_time_runs_out(client):
    started = time.monotonic()
    response = client.post("/videos", json={"prompt": "x"}, headers={"Prefer": "respond-async, wait=1"})
    assert 0.9 <= time.monotonic() - started < 5
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert response.headers["preference-applied"] == "wait=1"
    assert response.headers["location"] == f"/videos/{response.json()['id']}"


def test_options_and_params_follow_the_live_workers_model(client, tiny_capabilities):
    ctx = client.app.state.context
    options = client.get("/options").json()
    assert options["model"] is None and options["auth_required"] is False
    assert "32x32" in options["allowed_sizes"] and options["stages"][-1] == "upload"
    unfilled = client.post("/videos", json={"prompt": "x"}).json()["params"]
    assert unfilled["num_frames"] is None and unfilled["seed"] is not None
    publish_worker(ctx, "w1", tiny_capabilities, busy=None, ttl_s=30)
    options = client.get("/options").json()
    assert options["model"]["name"] == "tiny" and options["model"]["defaults"]["width"] == 32
    filled = client.post("/videos", json={"prompt": "x"}).json()["params"]
    assert (filled["num_frames"], filled["size"], filled["num_inference_steps"]) == (8, "32x32", 4)
    too_long = client.post("/videos", json={"prompt": "x", "num_frames": 100, "temporal_upsampling": 0})
    assert too_long.status_code == 422 and "base frames" in too_long.json()["error"]["message"]


def test_readiness_needs_a_live_worker(client, tiny_capabilities):
    ctx = client.app.state.context
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and "no live worker" in not_ready.json()["error"]["message"]
    caps = tiny_capabilities.model_copy(update={"backends": {"base": "onnxruntime", "decode": "torch"}})
    publish_worker(ctx, "w1", caps, busy="vid_x", ttl_s=30)
    ready = client.get("/readyz").json()
    queues = [{"priority": p, "depth": 0, "workers": 1} for p in ("high", "normal", "low")]
    worker = {
        "model": "tiny",
        "device": "cpu",
        "backends": {"base": "onnxruntime", "decode": "torch"},
        "priorities": ["high", "normal", "low"],
        "busy": True,
    }
    assert ready == {
        "status": "ready",
        "redis": True,
        "storage": True,
        "workers": 1,
        "queue_depth": 0,
        "queues": queues,
        "live_workers": [worker],
    }


def test_metrics_expose_requests_and_queue_depth(client):
    vid = client.post("/videos", json={"prompt": "x"}).json()["id"]
    client.get(f"/videos/{vid}")
    text = client.get("/metrics").text
    assert "videogen_queue_depth 1.0" in text and "videogen_redis_up 1.0" in text
    assert 'videogen_http_requests_total{method="POST",route="/videos",status="202"} 1.0' in text
    assert 'route="/videos/{video_id}"' in text
    ctx = client.app.state.context
    assert ctx.redis.lpos(ctx.queue.queues[Priority.NORMAL].key, job_id(vid, 1)) == 0


def test_metrics_expose_stage_durations_and_peak_memory(client):
    from core.metrics import observe_stages

    ctx = client.app.state.context
    observe_stages(ctx.redis, ctx.keys, {"base": 0.3}, {"base": 300 * 2**20})
    observe_stages(ctx.redis, ctx.keys, {"base": 2.0}, {"base": 3 * 2**30})
    text = client.get("/metrics").text
    assert 'videogen_stage_duration_seconds_bucket{le="0.5",stage="base"} 1.0' in text
    assert 'videogen_stage_peak_memory_bytes_bucket{le="5.36870912e+08",stage="base"} 1.0' in text
    assert 'videogen_stage_peak_memory_bytes_bucket{le="+Inf",stage="base"} 2.0' in text
    assert 'videogen_stage_peak_memory_bytes_sum{stage="base"} 3.535798272e+09' in text  # 300 MiB + 3 GiB
