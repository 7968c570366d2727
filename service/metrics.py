"""Prometheus metrics: this process's HTTP requests, plus job metrics every replica reads from Redis at scrape
time (queue depth, running jobs, workers, outcomes by error code, stage durations)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.types import ASGIApp, Receive, Scope, Send

from core.connection import REDIS_DOWN_ERRORS
from core.context import Context
from core.lifecycle import live_workers, serving_counts
from core.metrics import MEMORY_BUCKETS_BYTES, STAGE_BUCKETS_S, read_finished, read_stage_histograms
from service.asgi import ResponseWatch

logger = logging.getLogger(__name__)


class JobCollector(Collector):
    """Reads the shared job metrics from Redis on every scrape."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("videogen_redis_up", "1 if Redis answered this scrape")
        try:
            families = list(self._from_redis())
        except REDIS_DOWN_ERRORS as exc:
            logger.warning("metrics: Redis unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_redis(self) -> Iterator[Metric]:
        ctx = self.ctx
        depths, workers = ctx.queue.depths(), live_workers(ctx)
        yield GaugeMetricFamily(
            "videogen_queue_depth", "jobs waiting, all priorities", value=sum(depths.values())
        )
        by_priority = GaugeMetricFamily("videogen_priority_queue_depth", "jobs waiting", labels=["priority"])
        serving = GaugeMetricFamily(
            "videogen_priority_workers", "live workers serving the priority", labels=["priority"]
        )
        for priority, count in serving_counts(workers).items():
            by_priority.add_metric([priority], depths[priority])
            serving.add_metric([priority], count)
        yield by_priority
        yield serving
        running = ctx.redis.scard(ctx.keys.running)
        yield GaugeMetricFamily("videogen_jobs_running", "videos in progress", value=running)
        yield GaugeMetricFamily("videogen_workers", "live workers", value=len(workers))
        yield GaugeMetricFamily(
            "videogen_webhooks_pending", "webhook deliveries waiting", value=ctx.outbox.pending()
        )
        finished = CounterMetricFamily(
            "videogen_jobs_finished", "videos that reached a final state", labels=["status", "code"]
        )
        for field, count in sorted(read_finished(ctx.redis, ctx.keys).items()):
            status, _, code = field.partition(":")
            finished.add_metric([status, code], count)
        yield finished
        yield stage_histogram(
            ctx,
            "videogen_stage_duration_seconds",
            "time per job stage",
            ctx.keys.stage_seconds,
            STAGE_BUCKETS_S,
        )
        yield stage_histogram(
            ctx,
            "videogen_stage_peak_memory_bytes",
            "peak memory per job stage (torch's on a GPU worker, resident set on a CPU one)",
            ctx.keys.stage_memory,
            MEMORY_BUCKETS_BYTES,
        )


def stage_histogram(
    ctx: Context, name: str, documentation: str, key: str, bounds: tuple[float, ...] | tuple[int, ...]
) -> HistogramMetricFamily:
    """A per-stage histogram the workers keep in Redis at ``key`` (``core.metrics.observe_stages``)."""
    family = HistogramMetricFamily(name, documentation, labels=["stage"])
    for stage, parts in sorted(read_stage_histograms(ctx.redis, key).items()):
        buckets = [(floatToGoString(b), parts.get(str(b), 0.0)) for b in bounds]
        buckets.append(("+Inf", parts.get("count", 0.0)))
        family.add_metric([stage], buckets, sum_value=parts.get("sum", 0.0))
    return family


class RequestMetrics:
    """ASGI middleware counting requests by method, route template and status, and timing them."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "videogen_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "videogen_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = ResponseWatch(send)
        try:
            await self.app(scope, receive, watch.send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.requests.labels(scope["method"], template, str(watch.status)).inc()
            self.latency.labels(scope["method"], template).observe(watch.elapsed_s)
