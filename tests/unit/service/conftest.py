import pytest
from fastapi.testclient import TestClient

from core.params import TINY_PRESET_CAPABILITIES, Capabilities
from service.app import create_app


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
    return TINY_PRESET_CAPABILITIES
