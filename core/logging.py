"""Process logging for the API, the worker and ``videogen up``: one handler on the root logger writing to stderr,
as text (``TIME LEVEL LOGGER: MESSAGE``) or as one JSON object per line, and a *log context*: fields (a job's id,
its video id and stage; a request's video id) that every line carries while the context is active, whoever logs
it (this project's code, RQ, the pipeline, torch, diffusers), without being passed around.

The context lives in a ``contextvars.ContextVar`` holding a dict: ``log_context(...)`` opens one for a block (a
job, a request), ``set_log_fields(...)`` changes the open one in place (so code running in a copied context, such as
a thread started with ``in_current_context``, sees the change too). Torch-free; imported by every process.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Fields of the open context, in the order a JSON line shows them first (others follow).
CONTEXT_ORDER = ("job_id", "video_id", "attempt", "stage")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Libraries that give their root logger a stderr handler of their own and stop propagation when first used.
SELF_HANDLED_LOGGERS = ("diffusers", "transformers")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("videogen_log", default=None)


@contextmanager
def log_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """Every line logged inside the block (in this thread or task) carries ``fields`` (None values are left out),
    on top of the fields of an enclosing context. Yields the context's dict."""
    outer = _context.get()
    current = {**(outer or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(current)
    try:
        yield current
    finally:
        _context.reset(token)


def set_log_fields(**fields: Any) -> None:
    """Add fields to the open context (``None`` removes one); nothing happens outside a context."""
    current = _context.get()
    if current is None:
        return
    for name, value in fields.items():
        if value is None:
            current.pop(name, None)
        else:
            current[name] = value


def log_fields() -> dict[str, Any]:
    """A copy of the open context's fields (empty outside one)."""
    return dict(_context.get() or {})


def in_current_context(target: Callable[[], object]) -> Callable[[], object]:
    """``target`` bound to a copy of the caller's context: a thread started with it logs with the caller's fields
    (threads do not inherit context variables on their own)."""
    snapshot = contextvars.copy_context()
    return lambda: snapshot.run(target)


class ContextFilter(logging.Filter):
    """Copies the open context's fields onto each record as it is handled (``record.videogen_context``); put it
    on the handler, so records of every logger get it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.videogen_context = log_fields()
        return True


def _context_of(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "videogen_context", None)
    return fields if isinstance(fields, dict) else log_fields()


def iso_utc(timestamp: float) -> str:
    """``2026-11-25T21:04:10.529Z``."""
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO-8601, UTC, milliseconds), ``level``, ``logger``, ``message``, the
    context's fields, the fields a caller passed as ``extra={"fields": {...}}``, and ``exc`` (the traceback) or
    ``stack`` when the record has one. uvicorn's access-log records also get ``client``, ``method``, ``path``,
    ``http_version`` and ``status``."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _context_of(record)
        for name in (*[n for n in CONTEXT_ORDER if n in context], *sorted(set(context) - set(CONTEXT_ORDER))):
            doc.setdefault(name, context[name])
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            doc.update(zip(("client", "method", "path", "http_version", "status"), record.args, strict=True))
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            for name, value in extra.items():
                doc.setdefault(name, value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE``, then ``[job_id=… stage=…]`` when a context is open."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = _context_of(record)
        if not context:
            return text
        names = [*[n for n in CONTEXT_ORDER if n in context], *sorted(set(context) - set(CONTEXT_ORDER))]
        suffix = " [" + " ".join(f"{n}={context[n]}" for n in names) + "]"
        head, newline, tail = text.partition("\n")  # after the message, before a traceback
        return head + suffix + newline + tail


def formatter_for(log_format: str) -> logging.Formatter:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r} must be one of {', '.join(LOG_FORMATS)}")
    return JsonFormatter() if log_format == "json" else TextFormatter()


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) with the format's formatter and the context filter."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(ContextFilter())
    return handler


def dict_config(log_format: str, level: str) -> dict[str, Any]:
    """The same setup as a ``logging.config.dictConfig`` dict: what uvicorn applies in each API process it starts
    (``uvicorn.run(log_config=...)``), its own loggers propagating to the root handler."""
    formatter = "core.logging.JsonFormatter" if log_format == "json" else "core.logging.TextFormatter"
    formatter_for(log_format)  # validates
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "videogen",
        "filters": ["context"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "core.logging.ContextFilter"}},
        "formatters": {"videogen": {"()": formatter}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
    }


def configure_logging(log_format: str, level: str, stream: IO[str] | None = None) -> logging.Handler:
    """Make the root logger write ``log_format`` lines at ``level`` and up (replacing its handlers); route ``warnings``
    and uvicorn's loggers through it; in JSON mode, uncaught exceptions become JSON lines too. Returns the handler."""
    handler = make_handler(log_format, stream)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's default config gives its loggers their own handler and stops propagation: route them to ours, as
    # ``dict_config`` does in the processes uvicorn starts.
    adopt_library_loggers(UVICORN_LOGGERS)
    logging.captureWarnings(True)
    if log_format == "json":
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
    return handler


def adopt_library_loggers(names: tuple[str, ...] = SELF_HANDLED_LOGGERS) -> None:
    """Route these libraries' loggers through the root handler (and its format, and the job's context): drop the
    handler each installed and let records propagate. Call it after the libraries were first used (the worker
    does, once the model is loaded); their levels stay as they set them."""
    for name in names:
        library = logging.getLogger(name)
        for handler in library.handlers[:]:
            library.removeHandler(handler)
        library.propagate = True


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger("videogen").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("videogen").critical(
        "uncaught exception in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
    )
