"""The API by its extra alone: ``pip install -e '.[api]'`` into a fresh virtual environment (from a copy of the
tracked tree, so the checkout is not touched) gives a ``videogen serve`` that answers ``/healthz`` with no torch,
diffusers, numpy or onnx installed (issue 14's packaging by role; the deploy tests check the images' lists)."""

from __future__ import annotations

import shutil
import subprocess
import time
import venv

import httpx
import pytest
from integration_harness import REPO, env_for, free_port

pytestmark = pytest.mark.slow

PACKAGED = {"pyproject.toml", "README.md", "core", "service", "worker", "cli", "models", "export"}


@pytest.mark.timeout(600)
def test_the_api_extra_alone_serves_healthz_without_torch(tmp_path, redis_url):
    # What the package build reads: the metadata and the packages (no tests, docs or weights).
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    source = tmp_path / "src"
    for name in filter(None, tracked.decode().split("\0")):
        if name.split("/")[0] in PACKAGED and (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", f"{source}[api]"],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    assert "deprecat" not in install.stderr.lower(), install.stderr[-3000:]  # no setuptools license banners
    heavy = ("torch", "diffusers", "numpy", "onnx", "onnxruntime")
    probe = f"import importlib.util; print([m for m in {heavy!r} if importlib.util.find_spec(m)])"
    found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert found.stdout.strip() == "[]", f"installed by .[api]: {found.stdout}"

    port = free_port()
    env = env_for({"redis_url": redis_url, "auth_enabled": False, "data_dir": tmp_path / "data"})
    serve = subprocess.Popen(
        [str(tmp_path / "venv" / "bin" / "videogen"), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert serve.poll() is None, serve.stdout.read()
                assert time.monotonic() < deadline, "videogen serve did not answer within 60 s"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
    finally:
        serve.terminate()
        serve.wait(timeout=30)
