"""A property pass over the OpenAPI schema (schemathesis strategies driven by hypothesis): generated requests,
valid and invalid, against the app on the real Redis: no 5xx, and every response matches the schema (status
codes, content types, bodies, headers)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.lifecycle import publish_worker
from core.params import TINY_PRESET_CAPABILITIES
from service.app import create_app

API_KEY = "fuzz-key-0123456789"
TINY = TINY_PRESET_CAPABILITIES
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_responses_match_the_schema(make_settings, mode):
    app = create_app(
        make_settings(auth_enabled=True, api_keys=[API_KEY], max_queued=10_000), maintenance=False
    )
    # A live worker's announcement, as a real worker writes it: the server is ready, so 503 is never expected.
    publish_worker(app.state.context, "fuzz-worker", TINY, busy=None, ttl_s=600)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {API_KEY}"}

    @given(case=schema.as_strategy(generation_mode=mode))
    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
