import pytest
from fastapi.testclient import TestClient

from core.params import Capabilities
from service.app import create_app

# What a worker with the tiny preset publishes (core.lifecycle.publish_worker), for tests that need a live model.
TINY_CAPABILITIES = Capabilities(
    model="tiny",
    defaults={"num_frames": 8, "height": 32, "width": 32, "num_inference_steps": 4, "guidance_scale": 3.0,
              "temporal_upsampling": 1},
    size_multiple=8, max_base_frames=16,
)  # fmt: skip


@pytest.fixture
def make_client(make_settings):
    """``make_client(**settings)``: a TestClient on a fresh app (real Redis DB, temp data folder, no worker,
    no background sweeps)."""
    clients = []

    def make(**overrides):
        client = TestClient(create_app(make_settings(**overrides), maintenance=False))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def tiny_capabilities() -> Capabilities:
    return TINY_CAPABILITIES
