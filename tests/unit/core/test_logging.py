"""core.logging: the JSON and text formats, the log context (nesting, in-place fields, threads) and the setup the
CLI and uvicorn apply."""

import io
import json
import logging
import logging.config
import threading
from datetime import UTC, datetime

import pytest

from core.logging import (
    configure_logging,
    dict_config,
    in_current_context,
    log_context,
    log_fields,
    make_handler,
    set_log_fields,
)


@pytest.fixture
def capture():
    """``capture(format)``: a handler of that format on the root logger (INFO) writing to a buffer."""
    root = logging.getLogger()
    level, added = root.level, []

    def attach(log_format: str) -> io.StringIO:
        buffer = io.StringIO()
        handler = make_handler(log_format, buffer)
        root.addHandler(handler)
        added.append(handler)
        root.setLevel(logging.INFO)
        return buffer

    yield attach
    for handler in added:
        root.removeHandler(handler)
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_lines_have_utc_time_level_logger_message_and_context(capture):
    buffer = capture("json")
    log = logging.getLogger("some.library")
    log.info("outside")
    with log_context(job_id="vid_1-1", video_id="vid_1", attempt=1):
        log.warning("multi\nline %s", "message")
        set_log_fields(stage="base")
        log.info("in a stage")
    outside, first, second = lines(buffer)
    assert set(outside) == {"time", "level", "logger", "message"}
    stamp = datetime.fromisoformat(outside["time"])
    assert outside["time"].endswith("Z") and stamp.tzinfo == UTC
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert first == {
        **first,
        "level": "WARNING",
        "logger": "some.library",
        "message": "multi\nline message",
        "job_id": "vid_1-1",
        "video_id": "vid_1",
        "attempt": 1,
    }
    assert "stage" not in first and second["stage"] == "base"


def test_json_exceptions_carry_the_traceback_and_extra_fields(capture):
    buffer = capture("json")
    try:
        raise ValueError("bad value")
    except ValueError:
        extra = {"fields": {"status": 500, "message": "not this"}}
        logging.getLogger("x").exception("it failed", extra=extra)
    (line,) = lines(buffer)
    assert line["message"] == "it failed" and line["status"] == 500  # extras never replace the base fields
    assert line["exc"].startswith("Traceback") and "ValueError: bad value" in line["exc"]


def test_text_lines_end_with_the_context(capture):
    buffer = capture("text")
    with log_context(job_id="vid_1-1", stage="decode"):
        try:
            raise KeyError("k")
        except KeyError:
            logging.getLogger("worker.jobs").exception("failed")
    first, *rest = buffer.getvalue().splitlines()
    assert first.endswith("ERROR worker.jobs: failed [job_id=vid_1-1 stage=decode]")
    assert rest[0].startswith("Traceback")


def test_contexts_nest_and_end_with_their_block():
    assert log_fields() == {}
    set_log_fields(stage="ignored")  # no context open: nothing to change
    with log_context(job_id="j", skipped=None) as outer:
        assert outer == {"job_id": "j"}
        with log_context(stage="base"):
            assert log_fields() == {"job_id": "j", "stage": "base"}
        assert log_fields() == {"job_id": "j"}
        set_log_fields(stage="x")
        set_log_fields(stage=None)
        assert log_fields() == {"job_id": "j"}
    assert log_fields() == {}


def test_a_thread_started_in_the_context_logs_with_its_fields(capture):
    buffer = capture("json")
    with log_context(job_id="vid_2-1"):
        log = logging.getLogger("t")
        thread = threading.Thread(target=in_current_context(lambda: log.info("from a thread")))
        plain = threading.Thread(target=lambda: logging.getLogger("t").info("plain thread"))
        set_log_fields(stage="base")  # later changes reach the thread too: the context dict is shared
        thread.start(), plain.start()
        thread.join(), plain.join()
    by_message = {line["message"]: line for line in lines(buffer)}
    threaded = by_message["from a thread"]
    assert threaded["job_id"] == "vid_2-1" and threaded["stage"] == "base"
    assert "job_id" not in by_message["plain thread"]


def test_configure_and_the_uvicorn_dict_config_install_one_formatting_handler(monkeypatch):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()
    try:
        # As after an in-process uvicorn with its default config: own handlers on its loggers, no propagation.
        import uvicorn.config

        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
        handler = configure_logging("json", "warning", stream=buffer)
        assert root.handlers == [handler] and root.level == logging.WARNING
        logging.getLogger("uvicorn.error").warning("from uvicorn")
        assert json.loads(buffer.getvalue())["logger"] == "uvicorn.error"

        monkeypatch.setattr("sys.stderr", buffer)
        logging.config.dictConfig(dict_config("json", "INFO"))
        access = logging.getLogger("uvicorn.access")
        with log_context(video_id="vid_3"):
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/videos/vid_3", "1.1", 200)
        line = json.loads(buffer.getvalue().splitlines()[-1])
        assert line["method"] == "GET" and line["path"] == "/videos/vid_3" and line["status"] == 200
        assert line["video_id"] == "vid_3" and line["client"] == "127.0.0.1:5000"
        with pytest.raises(ValueError, match="log format"):
            dict_config("xml", "INFO")
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        logging.captureWarnings(False)
        import sys

        sys.excepthook = sys.__excepthook__
        threading.excepthook = threading.__excepthook__
