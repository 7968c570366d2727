"""``videogen up``'s supervisor: a child that dies is started again with backoff, and the exit is logged."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from cli.up import Supervisor

# Exits 3 on its first run (no marker file yet), then stays up.
FLAKY = (
    "import pathlib, sys, time; p = pathlib.Path(sys.argv[1]); first = not p.exists(); p.touch(); "
    "sys.exit(3) if first else time.sleep(30)"
)


def test_a_dead_child_is_started_again_and_the_exit_logged(tmp_path, caplog):
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    supervisor = Supervisor(worker_grace_s=5)
    try:
        supervisor.start("worker", [sys.executable, "-c", FLAKY, str(tmp_path / "ran")])
        first_pid = supervisor.children[0][1].pid
        with caplog.at_level(logging.WARNING, logger="videogen.up"):
            waiter = threading.Thread(target=supervisor.wait)
            waiter.start()
            deadline = time.monotonic() + 20
            while supervisor.restarts.get("worker", 0) < 1:
                assert time.monotonic() < deadline, caplog.text
                time.sleep(0.05)
            supervisor.signals = 1
            waiter.join(timeout=5)
        name, proc = supervisor.children[0]
        assert name == "worker" and proc.pid != first_pid and proc.poll() is None  # the second run is up
        assert "worker exited with code 3" in caplog.text and "starting it again in 1 s" in caplog.text
        assert supervisor._delay["worker"] == 2.0  # the next death waits longer
    finally:
        supervisor.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
