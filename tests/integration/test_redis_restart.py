"""Redis goes away while the API runs: every Redis-backed call answers 503 with Retry-After (never a 500),
liveness stays up, and once Redis is back the same API process serves again, with nothing lost (append-only)."""

from __future__ import annotations

import threading
import time

from integration_harness import BASE, make_api

from core.local_redis import free_port, start_redis


def test_api_answers_503_while_redis_is_down_and_recovers(tmp_path):
    port = free_port()
    server, _ = start_redis(tmp_path, port)
    api = make_api({**BASE, "redis_url": f"redis://127.0.0.1:{port}/0", "data_dir": tmp_path / "data"})
    try:
        video = api.post("/videos", json={"prompt": "before the outage"}).json()
        server.terminate()
        server.wait(timeout=20)
        for response in (
            api.get(f"/videos/{video['id']}"),
            api.post("/videos", json={"prompt": "x"}),
            api.get("/videos"),
            api.post(f"/videos/{video['id']}/cancel"),
            api.get("/readyz"),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "redis_unavailable"
            assert int(response.headers["retry-after"]) > 0
        assert api.get("/healthz").status_code == 200
        assert "videogen_redis_up 0.0" in api.get("/metrics").text
        time.sleep(1.2)  # the background sweeps run into the outage too, and must survive it

        server, _ = start_redis(tmp_path, port)
        deadline = time.monotonic() + 15
        while (again := api.get(f"/videos/{video['id']}")).status_code != 200:
            assert time.monotonic() < deadline, again.text
            time.sleep(0.1)
        assert again.json()["status"] == "queued" and again.json()["params"]["prompt"] == "before the outage"
        assert api.post("/videos", json={"prompt": "after"}).status_code == 202
        alive = {t.name for t in threading.enumerate()}
        assert {"videogen-sweeps", "videogen-webhooks"} <= alive
    finally:
        api.__exit__(None, None, None)
        server.terminate()
        server.wait(timeout=20)
