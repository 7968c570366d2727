"""Hostile bodies against the real server (uvicorn, one process): a body that used to raise in the app answers
400 on the same keep-alive connection, which stays usable, and huge headers do not take the process down."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration_harness import api_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(redis_url, tmp_path) -> Iterator[int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env.update(
        {
            "REDIS_URL": redis_url,
            "VIDEOGEN_AUTH_ENABLED": "false",
            "VIDEOGEN_MODEL": "tiny",
            "VIDEOGEN_DATA_DIR": str(tmp_path / "data"),
        }
    )
    with api_server(env) as port:
        yield port


def exchange(conn: socket.socket, request: bytes) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on ``conn``; (status, body) of the answer, read by its Content-Length."""
    conn.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = int(next(line for line in lines if line.lower().startswith(b"content-length:")).split(b":")[1])
    while len(body) < length:
        body += conn.recv(65536)
    return int(lines[0].split()[1]), body[:length]


def post(body: bytes) -> bytes:
    return (
        b"POST /videos HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )


def test_hostile_bodies_keep_the_connection(server):
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        for body in (b"[" * 5000 + b"]" * 5000, b'{"prompt": "x", "guidance_scale": NaN}', b"\xff\xfe"):
            status, answer = exchange(conn, post(body))
            assert status == 400 and b'"malformed_request"' in answer
        status, _ = exchange(conn, post(b'{"prompt": "x", "num_frames": 4, "size": "32x32"}'))
        assert status == 202  # the same connection, still served
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        status, _ = exchange(
            conn, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
        )
        assert status in (200, 400, 431)
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        assert exchange(conn, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")[0] == 200
