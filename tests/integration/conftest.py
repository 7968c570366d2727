"""Integration fixtures: the real Redis (a dedicated DB, flushed before and after each test, see the root
conftest), real worker processes (``videogen worker`` with the tiny model, RQ SimpleWorker), a real S3 endpoint over
HTTP (moto's ThreadedMotoServer) and the API app driven over ASGI. Helpers live in ``integration_harness``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest
import redis
from fastapi.testclient import TestClient
from integration_harness import BASE, MotoEndpoint, WebhookReceiver, WorkerProcess, make_api, wait_ready

# Its own DB, so unit-test runs elsewhere (which flush theirs) never touch a running integration session.
INTEGRATION_REDIS_URL = os.environ.get("VIDEOGEN_TEST_INTEGRATION_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture(scope="session")
def service_redis_url() -> str:
    return INTEGRATION_REDIS_URL


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The integration Redis DB, empty before and after each test."""
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {INTEGRATION_REDIS_URL}: {exc}")
    yield INTEGRATION_REDIS_URL
    client.flushdb()
    client.close()


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
def s3_endpoint() -> Iterator[MotoEndpoint]:
    """A real S3 endpoint over HTTP on loopback (moto), for the session."""
    endpoint = MotoEndpoint()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="session")
def group_values(tmp_path_factory, service_redis_url, s3_endpoint) -> dict[str, dict[str, object]]:
    """Settings per group of workers, each with its own queue and key prefix so groups never see each other's
    jobs: ``shared`` (local disk; a second worker joins only for the worker-loss test) and ``s3``."""
    common = {**BASE, "redis_url": service_redis_url}
    return {
        "shared": {
            **common,
            "queue_name": "shared",
            "key_prefix": "vgi",
            "max_attempts": 2,
            "data_dir": tmp_path_factory.mktemp("shared-data"),
        },
        "s3": {
            **common,
            "queue_name": "s3",
            "key_prefix": "vgs",
            "storage": "s3",
            "s3_endpoint_url": s3_endpoint.url,
            "s3_bucket": "videogen-it",
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing",
            "data_dir": tmp_path_factory.mktemp("s3-data"),
        },
    }


class Fleet:
    """The worker processes of the session, started on first need. Loading the model is the slow part, so the
    first worker is started alone and the others load in the background while the first one serves tests."""

    GROUPS: ClassVar[dict[str, str]] = {"shared-a": "shared", "shared-b": "shared", "s3-worker": "s3"}

    def __init__(
        self, start_worker: Callable[..., WorkerProcess], group_values: dict[str, dict[str, object]]
    ):
        self.start_worker = start_worker
        self.group_values = group_values
        self.procs: dict[str, WorkerProcess] = {}

    def start(self, name: str) -> WorkerProcess:
        if name not in self.procs:
            values = dict(self.group_values[self.GROUPS[name]], warmup=name == "shared-a")
            self.procs[name] = self.start_worker(values, name)
        return self.procs[name]

    def ready(self, name: str) -> WorkerProcess:
        worker = self.start(name)
        worker.wait_ready()
        return worker


@pytest.fixture(scope="session")
def fleet(start_worker, group_values) -> Fleet:
    return Fleet(start_worker, group_values)


@pytest.fixture(scope="session")
def shared_values(group_values) -> dict[str, object]:
    return group_values["shared"]


@pytest.fixture(scope="session")
def shared_worker(fleet) -> WorkerProcess:
    """The one warm tiny-model worker of the shared queue (tests rely on jobs queueing behind each other); once
    it is up, the S3 group's worker starts loading in the background."""
    worker = fleet.ready("shared-a")
    fleet.start("s3-worker")
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
