"""HTTP byte ranges (RFC 9110 section 14): one range per request; several ranges are answered with the whole
body, which the RFC allows."""

from __future__ import annotations

import re

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


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
