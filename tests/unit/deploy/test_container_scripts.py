"""The scripts the images run, against real components: the healthchecks against a real ``videogen serve`` and a
worker presence in the test Redis, the bucket init against a real S3 endpoint (moto's server over HTTP), and the
worker entrypoint exporting real ONNX files that the worker then loads."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from core.context import Context
from core.lifecycle import publish_worker
from core.params import Capabilities

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "docker"
VENV_BIN = Path(sys.executable).parent


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any VIDEOGEN_* variable, plus ``values`` and the venv on PATH."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VIDEOGEN_", "WORKER_")) and k != "REDIS_URL"
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(values)
    return env


def run_script(
    name: str, *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DOCKER / name), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_api_healthcheck_follows_a_real_server(redis_url: str, tmp_path: Path):
    port = free_port()
    env = clean_env(
        VIDEOGEN_REDIS_URL=redis_url,
        VIDEOGEN_AUTH_ENABLED="false",
        VIDEOGEN_DATA_DIR=str(tmp_path),
        VIDEOGEN_PORT=str(port),
    )
    down = run_script("healthcheck.py", "api", env=env)
    assert down.returncode == 1 and down.stdout.startswith("unhealthy:")
    server = subprocess.Popen(
        [str(VENV_BIN / "videogen"), "serve", "--host", "127.0.0.1", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            up = run_script("healthcheck.py", "api", env=env)
            if up.returncode == 0 or time.monotonic() > deadline or server.poll() is not None:
                break
            time.sleep(0.5)
        assert up.returncode == 0, (up.stdout, server.poll())
        assert up.stdout.startswith("healthy:") and f":{port}/healthz" in up.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert run_script("healthcheck.py", "api", env=env).returncode == 1


def test_worker_healthcheck_sees_only_this_hosts_workers(make_settings, redis_url: str):
    settings = make_settings()
    ctx = Context.build(settings, __import__("redis").Redis.from_url(redis_url))
    caps = Capabilities(model="tiny", defaults={"num_frames": 8}, size_multiple=8, max_base_frames=16)
    env = clean_env(VIDEOGEN_REDIS_URL=redis_url)

    publish_worker(ctx, "another-host.7", caps, busy=None, ttl_s=30)
    result = run_script("healthcheck.py", "worker", env=env)
    assert result.returncode == 1 and "no live worker" in result.stdout

    publish_worker(ctx, f"{socket.gethostname()}.4242", caps, busy=None, ttl_s=30)
    result = run_script("healthcheck.py", "worker", env=env)
    assert result.returncode == 0, result.stdout
    assert f"{socket.gethostname()}.4242" in result.stdout

    named = run_script("healthcheck.py", "worker", "--worker-prefix", "another-host.", env=env)
    assert named.returncode == 0 and "another-host.7" in named.stdout


def test_worker_healthcheck_fails_when_redis_is_down():
    env = clean_env(VIDEOGEN_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    result = run_script("healthcheck.py", "worker", env=env)
    assert result.returncode == 1 and "Redis" in result.stdout


@pytest.fixture
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_init_bucket_creates_the_services_bucket_and_is_idempotent(s3_endpoint: str):
    env = clean_env(
        VIDEOGEN_STORAGE="s3",
        VIDEOGEN_S3_ENDPOINT_URL=s3_endpoint,
        VIDEOGEN_S3_BUCKET="videos-from-init",
        VIDEOGEN_S3_ACCESS_KEY_ID="test",
        VIDEOGEN_S3_SECRET_ACCESS_KEY="test-secret",
    )
    for _ in range(2):
        result = run_script("init_bucket.py", "--timeout", "20", env=env)
        assert result.returncode == 0, result.stderr
        assert "bucket videos-from-init is ready" in result.stderr
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test-secret",
    )
    assert "videos-from-init" in {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_init_bucket_gives_up_when_the_store_never_answers():
    env = clean_env(
        VIDEOGEN_STORAGE="s3",
        VIDEOGEN_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        VIDEOGEN_S3_ACCESS_KEY_ID="test",
        VIDEOGEN_S3_SECRET_ACCESS_KEY="test-secret",
    )
    started = time.monotonic()
    result = run_script("init_bucket.py", "--timeout", "1", "--interval", "0.2", env=env)
    assert result.returncode == 1
    assert "not ready after" in result.stderr
    assert time.monotonic() - started < 45


def test_init_bucket_has_nothing_to_do_for_local_storage():
    result = run_script("init_bucket.py", env=clean_env(VIDEOGEN_STORAGE="local"))
    assert result.returncode == 0 and "no bucket to create" in result.stderr


def entrypoint(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    sh = shutil.which("sh")
    assert sh is not None
    return subprocess.run(
        [sh, str(DOCKER / "worker-entrypoint.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_entrypoint_refuses_an_unknown_engine_mode(tmp_path: Path):
    result = entrypoint("--help", env=clean_env(WORKER_ENGINES="fast", VIDEOGEN_ENGINE_DIR=str(tmp_path)))
    assert result.returncode == 2
    assert "expected auto, tensorrt, onnx or off" in result.stderr


def test_entrypoint_with_the_torch_backend_prepares_nothing_and_becomes_the_worker(tmp_path: Path):
    engines = tmp_path / "engines"
    env = clean_env(VIDEOGEN_BACKEND="torch", VIDEOGEN_ENGINE_DIR=str(engines))
    result = entrypoint("--help", env=env)
    assert result.returncode == 0, result.stderr
    assert "no engines to prepare" in result.stderr
    assert "usage: videogen worker" in result.stdout  # the arguments reached `videogen worker`
    assert not engines.exists()


def test_entrypoint_defaults_to_the_auto_backend_as_the_worker_does():
    result = entrypoint("--help", env=clean_env(VIDEOGEN_ENGINE_DIR=""))
    assert result.returncode == 0, result.stderr
    assert "no engines to prepare (WORKER_ENGINES=auto, VIDEOGEN_BACKEND=auto," in result.stderr


@pytest.mark.slow
def test_entrypoint_on_a_cpu_under_auto_exports_only_the_onnxruntime_modules_once(tmp_path: Path):
    """The CPU image's defaults (WORKER_ENGINES and VIDEOGEN_BACKEND auto): no TensorRT is asked for, only the
    modules ``auto`` runs on ONNX Runtime on a CPU are exported, and a second start keeps them."""
    from export.cache import CPU_ONNXRUNTIME_MODULES
    from export.specs import SPECS

    engines = tmp_path / "engines"
    env = clean_env(
        VIDEOGEN_ENGINE_DIR=str(engines), VIDEOGEN_MODEL="tiny", VIDEOGEN_DEVICE="cpu", OMP_NUM_THREADS="1"
    )
    expected = [m for m in SPECS if m in CPU_ONNXRUNTIME_MODULES]
    first = entrypoint("--help", env=env)
    assert first.returncode == 0, first.stderr[-4000:]
    assert f"preparing onnx engines of model tiny in {engines} (modules {','.join(expected)})" in first.stderr
    assert set(json.loads((engines / "manifest.json").read_text())["modules"]) == set(expected)
    second = entrypoint("--help", env=env)
    assert second.returncode == 0, second.stderr[-4000:]
    assert second.stderr.count("ONNX export is current, kept") == len(expected)
    assert "usage: videogen worker" in second.stdout


def test_entrypoint_lines_are_json_in_the_images_log_format(tmp_path: Path):
    env = clean_env(VIDEOGEN_BACKEND="torch", VIDEOGEN_ENGINE_DIR=str(tmp_path), VIDEOGEN_LOG_FORMAT="json")
    result = entrypoint("--help", env=env)
    line = json.loads(result.stderr.splitlines()[0])
    assert line["logger"] == "worker-entrypoint" and line["level"] == "INFO" and line["time"].endswith("Z")
    assert line["message"].startswith("no engines to prepare (WORKER_ENGINES=auto")


@pytest.mark.slow
def test_entrypoint_exports_engines_the_worker_then_runs_on(redis_url: str, tmp_path: Path):
    """First start: ONNX export of the tiny model into the engine folder, then a burst worker that loads the
    model with ONNX Runtime on every module from that folder."""
    engines = tmp_path / "engines"
    env = clean_env(
        WORKER_ENGINES="onnx",
        VIDEOGEN_BACKEND="onnxruntime",
        VIDEOGEN_ENGINE_DIR=str(engines),
        VIDEOGEN_MODEL="tiny",
        VIDEOGEN_DEVICE="cpu",
        VIDEOGEN_WARMUP="false",
        VIDEOGEN_REDIS_URL=redis_url,
        VIDEOGEN_DATA_DIR=str(tmp_path / "data"),
        OMP_NUM_THREADS="1",
    )
    result = entrypoint("--burst", "--name", "entrypoint-test", env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "preparing onnx engines of model tiny" in result.stderr
    assert "engines ready after" in result.stderr
    assert (engines / "manifest.json").is_file()
    assert any((engines / "onnx").glob("*.onnx"))
    assert "base_unet runs on onnxruntime" in result.stderr  # the worker used what the entrypoint made
    assert "model ready" in result.stderr
