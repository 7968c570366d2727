"""HTTP byte ranges and the conditional headers around them (RFC 9110 sections 13 and 14): one range per
request (several ranges are answered with the whole body, which the RFC allows); ``If-None-Match`` and
``If-Modified-Since`` for 304, ``If-Range`` to send a range only of the representation the client already has."""

from __future__ import annotations

import re
from email.utils import formatdate, parsedate_to_datetime

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_ETAG = re.compile(r'(?:W/)?"[^"]*"')


class RangeNotSatisfiable(Exception):
    """The range lies outside the body; answer 416 with ``Content-Range: bytes */<size>``."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte offsets, inclusive, for a ``Range`` header on a body of ``size`` bytes; None means
    "send everything" (no header, a header we ignore, or several ranges)."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None  # unknown unit or a multi-range: ignoring the header is allowed
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix: the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # syntactically invalid: ignore
    if first >= size:
        raise RangeNotSatisfiable(header)
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


def http_date(unix_s: float) -> str:
    """An HTTP-date (``Wed, 02 Dec 2026 16:30:00 GMT``), whole seconds, for ``Last-Modified``."""
    return formatdate(unix_s, usegmt=True)


def _parse_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: float
) -> bool:
    """Whether a GET or HEAD is answered 304: ``If-None-Match`` lists ``etag`` (weak comparison) or is ``*``;
    without it, ``If-Modified-Since`` is a valid date no earlier than ``last_modified`` (unix seconds)."""
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        opaque = etag.removeprefix("W/")
        return any(tag.removeprefix("W/") == opaque for tag in _ETAG.findall(if_none_match))
    if if_modified_since:
        since = _parse_date(if_modified_since)
        return since is not None and int(last_modified) <= since
    return False


def range_allowed(if_range: str | None, etag: str, last_modified: float) -> bool:
    """Whether to honour ``Range``: no ``If-Range``, or one naming this representation: the same strong ETag, or
    exactly its ``Last-Modified`` date. Otherwise the client's partial copy is stale and gets the whole body."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith('"'):
        return not etag.startswith("W/") and value == etag
    if value.startswith("W/"):
        return False  # a weak validator never allows a range
    date = _parse_date(value)
    return date is not None and date == int(last_modified)
