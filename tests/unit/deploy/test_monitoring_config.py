"""The example Grafana dashboard, the PromQL in docs/observability.md and the Prometheus config only name metrics
the API really serves: scraped here from a real app on the test Redis after a job's metrics were recorded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from core.context import Context
from core.metrics import count_finished, observe_stages
from service.app import create_app

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "docker" / "grafana" / "dashboards" / "videogen.json"
METRIC = re.compile(r"\b(videogen_[a-z_]+|DCGM_FI_[A-Z_]+)\b")
DCGM = {"DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_GPU_UTIL"}


@pytest.fixture
def served_metrics(make_settings) -> set[str]:
    """Names of the series a real app serves at /metrics once a job finished and a request was made."""
    app = create_app(make_settings(), maintenance=False)
    ctx: Context = app.state.context
    observe_stages(ctx.redis, ctx.keys, {"base": 1.5, "decode": 0.2}, {"base": 2**30, "decode": 2**31})
    count_finished(ctx.redis, ctx.keys, "failed", "timeout")
    with TestClient(app) as client:
        client.get("/healthz")
        text = client.get("/metrics").text
    return {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def doc_queries() -> list[str]:
    text = (ROOT / "docs" / "observability.md").read_text()
    blocks = re.findall(r"```promql\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.splitlines() if line and not line.startswith("#")]


def test_dashboard_and_docs_name_only_served_metrics(served_metrics: set[str]):
    queries = dashboard_queries() + doc_queries()
    assert len(queries) >= 15
    named = {name for q in queries for name in METRIC.findall(q)}
    unknown = {n for n in named if n.startswith("videogen_")} - served_metrics
    assert not unknown, f"queries name metrics the API does not serve: {sorted(unknown)}"
    assert {n for n in named if n.startswith("DCGM")} <= DCGM
    for key in (
        "videogen_queue_depth",
        "videogen_priority_queue_depth",
        "videogen_stage_duration_seconds_bucket",
        "videogen_stage_peak_memory_bytes_bucket",
        "DCGM_FI_DEV_FB_USED",
    ):
        assert key in named, f"no panel shows {key}"


def test_queries_are_balanced():
    for query in dashboard_queries() + doc_queries():
        assert query.count("(") == query.count(")"), query
        assert query.count("{") == query.count("}"), query
        assert query.count("[") == query.count("]"), query


def test_dashboard_is_provisioned_from_the_prometheus_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    provisioned = yaml.safe_load(
        (ROOT / "docker/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {uid}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    provider = yaml.safe_load((ROOT / "docker/grafana/provisioning/dashboards/videogen.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_prometheus_scrapes_the_api_service_on_its_metrics_port():
    config = yaml.safe_load((ROOT / "docker" / "prometheus.yml").read_text())
    (api,) = [job for job in config["scrape_configs"] if job["job_name"] == "videogen-api"]
    assert api["metrics_path"] == "/metrics"
    assert api["dns_sd_configs"][0]["names"] == ["api"] and api["dns_sd_configs"][0]["port"] == 8000
