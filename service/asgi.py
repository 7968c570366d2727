"""What the API's ASGI middlewares share: watching one HTTP response go out."""

from __future__ import annotations

import time

from starlette.types import Message, Send


class ResponseWatch:
    """Wraps ``send`` to note the response status (500 until a response starts: an app that raised sent none)
    and measures seconds since the request came in."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500
        self.started = time.perf_counter()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started
