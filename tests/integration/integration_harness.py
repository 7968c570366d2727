"""Helpers for the integration tests (imported by them and by conftest): worker subprocesses, the API app over
ASGI, polling, a webhook receiver, and the settings every integration API and worker shares."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from core.keys import Keys
from core.settings import Settings
from service.app import create_app

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"integration-tests-secret-0123456").decode()
WORKER_START_TIMEOUT_S = 420.0  # importing torch and building the model on 2 busy cores can take minutes

# Every integration API and worker shares these (a test overrides what it needs).
BASE = {
    "model": "tiny",
    "auth_enabled": False,
    "heartbeat_ttl_s": 5.0,
    "maintenance_interval_s": 0.5,
    "progress_interval_s": 0.0,
    "webhook_secret": WEBHOOK_SECRET,
    "webhook_allow_private": True,
    "webhook_backoff_s": 0.2,
    "storage_retry_backoff_s": 0.1,
    "rate_limit_per_minute": 0,
}

# Small and quick jobs: 4 frames at 32x32 (2 base frames, one flow doubling), 2 steps.
QUICK = {
    "prompt": "a red ball moving right",
    "num_frames": 4,
    "size": "32x32",
    "num_inference_steps": 2,
    "temporal_upsampling": 1,
    "seed": 11,
}


def env_for(values: dict[str, object]) -> dict[str, str]:
    """A subprocess environment holding exactly these settings (no VIDEOGEN_* leaking in from outside)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_") and k != "REDIS_URL"}
    for name, value in values.items():
        env[f"VIDEOGEN_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    env["OMP_NUM_THREADS"] = "1"
    return env


class WorkerProcess:
    """``videogen worker`` in a subprocess, with its log in a file."""

    def __init__(self, values: dict[str, object], name: str, log_dir: Path) -> None:
        self.name = name
        self.values = values
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        cmd = [sys.executable, "-m", "cli.main", "worker", "--name", name, "--device", "cpu"]
        self.proc = subprocess.Popen(
            cmd, env=env_for(values), cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_ready(self, timeout_s: float = WORKER_START_TIMEOUT_S) -> None:
        """Until the worker has announced itself in Redis (the model is loaded and warm)."""
        client = redis.Redis.from_url(str(self.values["redis_url"]))
        key = Keys(str(self.values.get("key_prefix", "videogen"))).worker(self.name)
        deadline = time.monotonic() + timeout_s
        while not client.exists(key):
            if self.proc.poll() is not None:
                pytest.fail(f"worker {self.name} exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"worker {self.name} not ready after {timeout_s:g} s:\n{self.log()}")
            time.sleep(0.2)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def api_server(env: dict[str, str], log_path: Path | None = None) -> Iterator[int]:
    """``videogen serve`` (uvicorn, one process) with ``env`` on a free loopback port, its output in
    ``log_path``; yields the port once it accepts connections, stops it after."""
    port = free_port()
    log = open(log_path, "wb") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the API did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path is not None:
            log.close()


def make_api(values: dict[str, object], maintenance: bool = True) -> TestClient:
    client = TestClient(create_app(Settings(**values), maintenance=maintenance))
    client.__enter__()
    return client


def wait_ready(client: TestClient, timeout_s: float = 30.0) -> None:
    """Until /readyz is 200: after each test's Redis flush a worker re-announces itself within a second."""
    deadline = time.monotonic() + timeout_s
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"not ready: {client.get('/readyz').json()}")
        time.sleep(0.1)


def wait_for(client: TestClient, video_id: str, statuses: set[str], timeout_s: float = 180.0) -> dict:
    """Poll ``GET /videos/{id}`` until its status is one of ``statuses``; returns the video."""
    deadline = time.monotonic() + timeout_s
    while True:
        video = client.get(f"/videos/{video_id}").json()
        if video.get("status") in statuses:
            return video
        if time.monotonic() > deadline:
            pytest.fail(f"video {video_id} still {video.get('status')} after {timeout_s:g} s: {video}")
        time.sleep(0.05)


class WebhookReceiver:
    """A real HTTP server on loopback recording what it is POSTed."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/video"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout_s: float = 20.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received


class MotoEndpoint:
    """moto's S3 server on a fixed loopback port; ``stop()``/``start()`` simulate an outage (objects survive:
    moto keeps them in this process)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server_class = ThreadedMotoServer
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, self.port = self.server.get_host_and_port()
        self.url = f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = self._server_class(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
