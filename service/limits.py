"""Request body limits: size (413 before a handler sees an oversized body) and a strict JSON parser for what
clients send (400 for what cannot or should not be parsed)."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import MalformedRequestError


class BodySizeLimit:
    """Refuse bodies over ``max_bytes``: at once from ``Content-Length``, else while reading the stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"error": {"code": "payload_too_large", "message": f"request body over {self.max_bytes} bytes"}}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


MAX_JSON_DEPTH = 32  # a submission is two levels deep (body -> metadata); anything far deeper is hostile
MAX_JSON_NUMBER_CHARS = 64  # a float or int longer than this is no parameter a client means to send


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def _number(text: str) -> str:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text)} characters")
    return text


def _parse_float(text: str) -> float:
    value = float(_number(text))
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a float")
    return value


def _parse_int(text: str) -> int:
    return int(_number(text))


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _depth_over(raw: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (checked before parsing, so a body nested
    thousands deep never reaches the recursive decoder)."""
    depth = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def loads_strict(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse client JSON, refusing what ``json.loads`` accepts but a client never means: NaN/Infinity tokens,
    numbers that overflow or run past ``MAX_JSON_NUMBER_CHARS``, duplicate keys, nesting past ``max_depth``,
    and bytes that are not UTF-8. Raises ``MalformedRequestError`` (HTTP 400) naming the problem."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise MalformedRequestError(f"body is not UTF-8: {exc}") from exc
    if (
        ("[" in text or "{" in text)
        and text.count("[") + text.count("{") > max_depth
        and _depth_over(text, max_depth)
    ):
        raise MalformedRequestError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
            object_pairs_hook=_pairs,
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedRequestError(f"body is not valid JSON: {exc}") from exc
