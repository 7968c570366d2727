"""Integration fixtures: the real Redis (a dedicated DB, flushed before and after each test, see the root
conftest), real worker processes (``videogen worker`` with the tiny model, RQ SimpleWorker), a real S3 endpoint over
HTTP (moto's ThreadedMotoServer) and the API app driven over ASGI. Helpers live in ``integration_harness``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from integration_harness import BASE, WebhookReceiver, WorkerProcess, make_api, wait_ready


@pytest.fixture(scope="session")
def start_worker(tmp_path_factory) -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker(values, name)``: a worker process with these settings, stopped at session end."""
    log_dir = tmp_path_factory.mktemp("worker-logs")
    workers: list[WorkerProcess] = []

    def start(values: dict[str, object], name: str) -> WorkerProcess:
        worker = WorkerProcess(values, name, log_dir)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture(scope="session")
def shared_values(tmp_path_factory, service_redis_url) -> dict[str, object]:
    """Settings of the shared worker and of the API tests talking to it."""
    return {**BASE, "redis_url": service_redis_url, "data_dir": tmp_path_factory.mktemp("shared-data"),
            "queue_name": "shared", "key_prefix": "vgi", "warmup": True}  # fmt: skip


@pytest.fixture(scope="session")
def shared_worker(start_worker, shared_values) -> WorkerProcess:
    """One warm tiny-model worker for the whole session (tests that kill workers start their own)."""
    worker = start_worker(shared_values, "shared-worker")
    worker.wait_ready()
    return worker


@pytest.fixture
def api(redis_url, shared_worker, shared_values) -> Iterator[TestClient]:
    """The API on the shared worker's queue, with its own maintenance loop, ready to take jobs."""
    client = make_api(shared_values)
    wait_ready(client)
    yield client
    client.__exit__(None, None, None)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.server.shutdown()
