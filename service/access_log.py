"""The API's request log: one line per HTTP request on the ``service.access`` logger, written when the response is
done, with ``method``, ``path``, ``route``, ``status``, ``duration_ms``, ``client`` and, where the route names one
(or ``POST /videos`` creates one), ``video_id``; at INFO, WARNING for 5xx, DEBUG for successful probes. It also
opens the request's log context, so every line logged while the request is handled carries the video id once it is
known (see ``core.logging``)."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from core.logging import log_context
from service.asgi import ResponseWatch

logger = logging.getLogger("service.access")

# Probes and scrapes (every few seconds, from Docker, Kubernetes, Prometheus): logged at DEBUG unless they fail.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestLog:
    """ASGI middleware; add it last (outermost) so its duration covers the whole request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = ResponseWatch(send)
        with log_context() as fields:
            try:
                await self.app(scope, receive, watch.send)
            finally:
                # The router fills in path_params once it has matched a route (the scope is shared).
                video_id = (scope.get("path_params") or {}).get("video_id") or fields.get("video_id")
                if video_id:
                    fields["video_id"] = video_id
                self._log(scope, watch.status, watch.elapsed_s)

    @staticmethod
    def _log(scope: Scope, status: int, duration_s: float) -> None:
        method, path = scope["method"], scope["path"]
        route = getattr(scope.get("route"), "path", None)
        client = scope.get("client")
        duration_ms = round(duration_s * 1000, 2)
        level = logging.WARNING if status >= 500 else logging.INFO
        if path in QUIET_PATHS and status < 400:
            level = logging.DEBUG
        fields = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "client": client[0] if client else None,
        }
        logger.log(level, "%s %s %d %.1fms", method, path, status, duration_ms, extra={"fields": fields})
