"""Priorities through the API: who may ask for ``high``, the queue each video waits in, queue positions across
priorities, cancel from the right queue, and what ``/readyz`` and ``/metrics`` say per priority."""

from core.lifecycle import publish_worker
from core.video import Priority

KEY, FAST_KEY = "key-normal-0123456789", "key-fast-0123456789"


def submit(client, priority=None, key=None):
    body = {"prompt": "a red ball"} | ({"priority": priority} if priority else {})
    headers = {"X-API-Key": key} if key else {}
    return client.post("/videos", json=body, headers=headers)


def test_high_priority_needs_a_key_allowed_it(make_client):
    client = make_client(auth_enabled=True, api_keys=[KEY], high_priority_api_keys=[FAST_KEY])
    refused = submit(client, "high", KEY)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "VIDEOGEN_HIGH_PRIORITY_API_KEYS" in refused.json()["error"]["message"]
    assert client.app.state.context.queue.depth() == 0  # nothing stored or queued for it
    assert submit(client, "low", KEY).json()["priority"] == "low"  # anyone may step back
    fast = submit(client, "high", FAST_KEY)  # a high-priority key is a valid key by itself
    assert fast.status_code == 202 and fast.json()["priority"] == "high"
    assert submit(client, None, FAST_KEY).json()["priority"] == "normal"  # high only when asked for
    bad = submit(client, "urgent", FAST_KEY)
    assert bad.status_code == 422 and "priority" in bad.json()["error"]["message"]


def test_each_priority_waits_in_its_own_queue_and_positions_count_higher_ones_first(client):
    ctx = client.app.state.context
    low = submit(client, "low").json()
    normal = [submit(client).json() for _ in range(2)]
    high = submit(client, "high").json()  # anyone may while auth is off
    assert ctx.queue.depths() == {Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 1}
    assert [q.name for q in ctx.queue.queues.values()] == ["videogen.high", "videogen", "videogen.low"]
    position = {
        v["id"]: client.get(f"/videos/{v['id']}").json()["queue_position"] for v in [low, *normal, high]
    }
    assert position == {high["id"]: 0, normal[0]["id"]: 1, normal[1]["id"]: 2, low["id"]: 3}
    assert client.get(f"/videos/{low['id']}").json()["priority"] == "low"

    assert client.post(f"/videos/{high['id']}/cancel").json()["status"] == "cancelled"
    assert ctx.queue.depths()[Priority.HIGH] == 0  # withdrawn from its own queue
    assert client.get(f"/videos/{low['id']}").json()["queue_position"] == 2


def test_readiness_and_metrics_report_each_priority(client, tiny_capabilities):
    ctx = client.app.state.context
    publish_worker(ctx, "all", tiny_capabilities, busy=None, ttl_s=30)
    publish_worker(ctx, "fast-lane", tiny_capabilities, busy=None, ttl_s=30, priorities=[Priority.HIGH])
    submit(client, "low")
    submit(client, "low")
    submit(client, "high")
    ready = client.get("/readyz").json()
    assert ready["workers"] == 2 and ready["queue_depth"] == 3
    assert ready["queues"] == [
        {"priority": "high", "depth": 1, "workers": 2},
        {"priority": "normal", "depth": 0, "workers": 1},
        {"priority": "low", "depth": 2, "workers": 1},
    ]
    assert sorted(w["priorities"] for w in ready["live_workers"]) == [["high"], ["high", "normal", "low"]]
    text = client.get("/metrics").text
    assert "videogen_queue_depth 3.0" in text
    assert 'videogen_priority_queue_depth{priority="low"} 2.0' in text
    assert 'videogen_priority_queue_depth{priority="high"} 1.0' in text
    assert 'videogen_priority_workers{priority="high"} 2.0' in text
    assert 'videogen_priority_workers{priority="normal"} 1.0' in text


def test_backpressure_counts_only_the_jobs_that_would_run_first(make_client):
    client = make_client(max_queued=2)
    assert [submit(client, "low").status_code for _ in range(2)] == [202, 202]
    assert submit(client, "low").json()["error"]["code"] == "queue_full"
    assert [submit(client).status_code for _ in range(2)] == [
        202,
        202,
    ]  # full low queue: normal still gets in
    full = submit(client)
    assert full.status_code == 503 and "priority normal or higher" in full.json()["error"]["message"]
    assert submit(client, "high").status_code == 202
