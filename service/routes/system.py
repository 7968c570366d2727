"""Health, readiness, metrics and the server's options (all public: no API key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.errors import RetryLaterError, StorageError, VideoGenError
from core.lifecycle import current_capabilities, live_workers, serving_counts
from core.video import STAGES
from service.deps import ContextDep
from service.routes.videos import error_responses
from service.schemas import Health, Limits, ModelInfo, Options, PriorityQueueState, Readiness, WorkerState

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Readiness, responses=error_responses(503), summary="Ready to serve")
def readyz(ctx: ContextDep) -> Readiness:
    """200 when Redis and storage answer and at least one worker is live; 503 naming what is missing. Per
    priority: jobs waiting and the live workers serving it; per live worker: model, device, the backend of each
    stage, its priorities and whether it is busy."""
    problems = []
    ctx.redis.ping()  # a Redis outage becomes a 503 redis_unavailable
    try:
        ctx.storage.ping()
        storage_ok = True
    except StorageError as exc:
        storage_ok = False
        problems.append(f"storage: {exc}")
    workers = live_workers(ctx)
    if not workers:
        problems.append("no live worker")
    if problems:
        raise RetryLaterError("not ready: " + "; ".join(problems), retry_after=5)
    depths, serving = ctx.queue.depths(), serving_counts(workers)
    queues = [PriorityQueueState(priority=p, depth=n, workers=serving[p]) for p, n in depths.items()]
    states = [WorkerState.of(w) for w in sorted(workers, key=lambda w: w["name"])]
    return Readiness(
        redis=True,
        storage=storage_ok,
        workers=len(workers),
        queue_depth=sum(depths.values()),
        queues=queues,
        live_workers=states,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus"}},
    summary="Prometheus metrics",
)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/options", response_model=Options, responses=error_responses(503), summary="Server options")
def options(ctx: ContextDep) -> Options:
    """What a client may ask for: allowed sizes, limits, the model's defaults (once a worker is live) and
    whether an API key is needed. For building forms such as the playground."""
    s = ctx.settings
    try:
        caps = current_capabilities(ctx)
    except VideoGenError:
        caps = None
    model = None
    if caps is not None:
        model = ModelInfo(
            name=caps.model,
            defaults=caps.defaults,
            size_multiple=caps.size_multiple,
            max_base_frames=caps.max_base_frames,
            max_temporal_upsampling=caps.max_temporal_upsampling,
            device=caps.device,
            backends=caps.backends,
        )
    limits = Limits(
        max_num_frames=s.max_num_frames,
        max_inference_steps=s.max_inference_steps,
        max_guidance_scale=s.max_guidance_scale,
        max_fps=s.max_fps,
        max_prompt_chars=s.max_prompt_chars,
        max_metadata_bytes=s.max_metadata_bytes,
        max_reference_bytes=s.max_reference_bytes,
        max_body_bytes=s.max_body_bytes,
        max_wait_s=s.max_wait_s,
        max_page_limit=s.max_page_limit,
        max_queued=s.max_queued,
        rate_limit_per_minute=s.rate_limit_per_minute,
    )
    return Options(
        auth_required=s.auth_enabled,
        allowed_sizes=s.allowed_sizes,
        default_fps=s.default_fps,
        limits=limits,
        model=model,
        webhooks_enabled=s.webhook_secret is not None,
        result_ttl_s=s.result_ttl_s,
        job_timeout_s=s.job_timeout_s,
        storage=s.storage,
        stages=list(STAGES),
    )
