"""The project's error hierarchy. Each error has a stable ``code`` clients can branch on; only ``service/`` maps
codes to HTTP statuses."""

from __future__ import annotations


class VideoGenError(Exception):
    """Base of every error the project raises on purpose."""

    code = "internal_error"


class InvalidInputError(VideoGenError):
    code = "invalid_input"


class InvalidReferenceError(InvalidInputError):
    code = "invalid_reference"


class ModelLoadError(VideoGenError):
    code = "model_error"


# --- service and queue errors (the service maps each code to an HTTP status) ---


class NotFoundError(VideoGenError):
    code = "not_found"


class NotSupportedError(NotFoundError):
    """An endpoint of the OpenAI Videos API that this server does not offer (HTTP 404, naming what it does)."""

    code = "not_supported"


class ConflictError(VideoGenError):
    """The request is valid but the resource's state does not allow it (e.g. content not ready yet)."""

    code = "conflict"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidWebhookURLError(InvalidInputError):
    code = "invalid_webhook_url"


class AuthenticationError(VideoGenError):
    code = "unauthorized"


class PermissionDeniedError(VideoGenError):
    """A known caller asking for something its key does not allow (HTTP 403)."""

    code = "forbidden"


class RetryLaterError(VideoGenError):
    """A temporary refusal; ``retry_after`` (seconds) tells the client when to try again."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(RetryLaterError):
    code = "rate_limited"


class QueueFullError(RetryLaterError):
    code = "queue_full"


class StorageError(VideoGenError):
    """The object store failed (unreachable, refused, or a read/write error)."""

    code = "storage_error"


# --- why a job failed: the error.code a client sees on a failed video ---


class JobTimeoutError(VideoGenError):
    code = "timeout"


class OutOfMemoryError(VideoGenError):
    code = "out_of_memory"


class WorkerLostError(VideoGenError):
    code = "worker_lost"


class JobCancelledError(VideoGenError):
    """Raised inside a worker to stop a job whose video was cancelled (or superseded by a retry)."""

    code = "cancelled"


class JobInterruptedError(VideoGenError):
    """Raised inside a worker to stop a job it must hand back to the queue (the worker is shutting down): the
    video goes back to ``queued`` on the same attempt, never to a terminal state."""

    code = "interrupted"


class ExportError(VideoGenError):
    """An export, engine build or accelerated-runtime artifact failed or does not fit this model."""

    code = "export_error"


class MalformedRequestError(InvalidInputError):
    """The body cannot be parsed at all (not JSON, a broken multipart form); HTTP 400."""

    code = "malformed_request"


class PayloadTooLargeError(InvalidInputError):
    """The body or an uploaded file is over its size limit; HTTP 413."""

    code = "payload_too_large"


class UnsupportedMediaTypeError(InvalidInputError):
    code = "unsupported_media_type"
