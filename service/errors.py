"""The one place that maps errors to HTTP: every error leaves as ``{"error": {"code", "message"}}`` with the
status its kind deserves; a Redis outage is a 503 with ``Retry-After``, never a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.connection import REDIS_DOWN_ERRORS
from core.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    MalformedRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    RetryLaterError,
    StorageError,
    UnsupportedMediaTypeError,
    VideoGenError,
)

logger = logging.getLogger(__name__)

REDIS_RETRY_AFTER_S = 5
STORAGE_RETRY_AFTER_S = 10

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid_input",
    429: "rate_limited",
    503: "unavailable",
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def status_for(exc: VideoGenError) -> int:
    if isinstance(exc, MalformedRequestError):
        return 400
    if isinstance(exc, PayloadTooLargeError):
        return 413
    if isinstance(exc, UnsupportedMediaTypeError):
        return 415
    if isinstance(exc, InvalidInputError):
        return 422
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, RateLimitedError):
        return 429
    if isinstance(exc, RetryLaterError | StorageError):
        return 503
    return 500


async def _videogen_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VideoGenError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, RetryLaterError):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, StorageError):
        headers["Retry-After"] = str(STORAGE_RETRY_AFTER_S)
        logger.warning("storage unavailable: %s", exc)
        return error_response(503, "storage_unavailable", "the object store is unavailable", headers)
    elif isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    if status == 500:
        logger.error("unhandled %s: %s", exc.code, exc)
    return error_response(status, exc.code, str(exc), headers)


async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("Redis unavailable: %s", exc)
    headers = {"Retry-After": str(REDIS_RETRY_AFTER_S)}
    return error_response(503, "redis_unavailable", "the job store (Redis) is unavailable", headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return error_response(422, "invalid_input", "; ".join(parts) or "invalid request")


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VideoGenError, _videogen_error)
    for error in REDIS_DOWN_ERRORS:
        app.add_exception_handler(error, _redis_down)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
