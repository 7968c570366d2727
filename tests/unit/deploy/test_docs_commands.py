"""The docs' commands run, so they never rot.

- Fenced blocks marked ```` ```bash runnable ```` in README.md and docs/ run as they are (in a scratch folder that
  has this checkout's ``.venv``), needing no GPU, Docker or network; every ``-o FILE`` they name must exist after.
- Blocks marked ``api-example`` (curl and Python) run against a real API and a real worker on the ``tiny`` model,
  with auth on, after pointing ``localhost:8000`` at the test server; they must leave a playable ``video.mp4``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import imageio.v3 as iio
import pytest

ROOT = Path(__file__).resolve().parents[3]
VENV = Path(sys.executable).parent.parent
FENCE = re.compile(r"^```(\w+)[ \t]+([\w-]+)[ \t]*\n(.*?)^```", re.M | re.S)
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
API_KEY = "docs-example-key"


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    mark: str
    code: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def marked_blocks(mark: str) -> list[Block]:
    blocks = []
    for path in DOC_FILES:
        text = path.read_text()
        for match in FENCE.finditer(text):
            if match.group(2) == mark:
                line = text.count("\n", 0, match.start()) + 1
                blocks.append(Block(path, line, match.group(1), mark, match.group(3)))
    return blocks


def scratch_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_") and k != "REDIS_URL"}
    env.update(OMP_NUM_THREADS="1", PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}", **values)
    return env


def test_docs_have_runnable_commands():
    blocks = marked_blocks("runnable")
    code = "\n".join(b.code for b in blocks)
    assert "videogen --help" in code
    assert re.search(r"videogen generate .*--model tiny", code)
    examples = marked_blocks("api-example")
    assert {b.language for b in examples} == {"bash", "python"}


@pytest.mark.parametrize("block", marked_blocks("runnable"), ids=str)
def test_runnable_block(block: Block, tmp_path: Path):
    (tmp_path / ".venv").symlink_to(VENV)  # the docs say .venv/bin/videogen, from the repository root
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=tmp_path,
        env=scratch_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{block} failed:\n{result.stderr[-3000:]}"
    for name in re.findall(r"-o\s+(\S+)", block.code):
        assert (tmp_path / name).stat().st_size > 0, f"{block} did not write {name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_stack(redis_url: str, tmp_path: Path) -> Iterator[str]:
    """``videogen serve`` (auth on) and ``videogen worker --model tiny`` on the test Redis; yields the base URL
    once ``/readyz`` says a worker is live."""
    port = free_port()
    env = scratch_env(
        VIDEOGEN_REDIS_URL=redis_url,
        VIDEOGEN_API_KEYS=API_KEY,
        VIDEOGEN_DATA_DIR=str(tmp_path / "data"),
        VIDEOGEN_WARMUP="false",
        VIDEOGEN_MODEL_ALIASES="sora-2,sora-2-pro",  # docs/api.md's OpenAI SDK example passes model="sora-2"
    )
    videogen = str(VENV / "bin" / "videogen")
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [
        subprocess.Popen(
            [videogen, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / "api.log").open("w"),
        ),
        subprocess.Popen(
            [videogen, "worker", "--model", "tiny", "--device", "cpu", "--name", "docs-example"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / "worker.log").open("w"),
        ),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            crashed = [p.args[1] for p in procs if p.poll() is not None]
            if crashed or time.monotonic() > deadline:
                pytest.fail(
                    f"stack not ready ({crashed or 'timeout'}): {(logs / 'worker.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_api_examples_make_a_video(live_stack: str, tmp_path: Path):
    host = live_stack.removeprefix("http://")
    for block in marked_blocks("api-example"):
        folder = tmp_path / f"{block.language}-{block.line}"
        folder.mkdir()
        code = block.code.replace("localhost:8000", host)
        command = (
            ["bash", "-euo", "pipefail", "-c", code]
            if block.language == "bash"
            else [sys.executable, "-c", code]
        )
        result = subprocess.run(
            command,
            cwd=folder,
            env=scratch_env(VIDEOGEN_API_KEY=API_KEY),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"{block} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        frames = iio.imread(folder / "video.mp4")
        assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.shape[0] > 1, f"{block}: {frames.shape}"
