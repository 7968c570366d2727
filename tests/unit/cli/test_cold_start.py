"""What a cold ``videogen generate`` imports (issue 13 item 4): guards the laziness, not a timing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Never needed to generate a video: the API, training, evaluation, exporting, the SD converter, optional stacks.
NEVER = (
    "service",
    "fastapi",
    "uvicorn",
    "redis",
    "rq",
    "models.train",
    "models.eval",
    "models.from_sd",
    "models.world",
    "onnx",
    "export.onnx_export",
    "tensorrt",
    "scipy",
    "sklearn",
    "matplotlib",
    "pandas",
)


def imported(code: str, tmp_path: Path) -> set[str]:
    """Runs ``code`` in a fresh interpreter and returns the modules of NEVER + heavy ones it left imported."""
    probe = (
        "\nimport sys\n"
        "names = NEVER + ('torch', 'diffusers', 'transformers', 'onnxruntime', 'accelerate', 'models')\n"
        "print(','.join(sorted(m for m in names if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"NEVER = {NEVER!r}\n{code}{probe}"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
            "VIDEOGEN_DATA_DIR": str(tmp_path / "data"),
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = (result.stdout.strip().splitlines() or [""])[-1]
    return set(filter(None, last.split(",")))


def test_the_command_line_imports_no_model_stack(tmp_path: Path) -> None:
    """``videogen --help`` and parsing a generate command load no torch, diffusers, onnxruntime or service."""
    code = (
        "from cli.main import build_parser\n"
        "import cli.generate, export.prewarm\n"
        "build_parser().parse_args(['generate', 'a red ball'])\n"
    )
    assert imported(code, tmp_path) == set()


def test_a_generate_run_imports_only_what_it_runs(tmp_path: Path) -> None:
    """A whole (tiny) generation: the torch stack, but nothing of the API, training, evaluation or export."""
    code = (
        "from cli.main import main\n"
        "assert main(['generate', 'a red ball moving right', '--model', 'tiny', '--steps', '1', '--frames', '4',"
        " '--height', '24', '--width', '40', '--upsample', '0', '-q', '-o', 'o.mp4']) == 0\n"
    )
    left = imported(code, tmp_path)
    assert {"torch", "diffusers", "models"} <= left  # it did generate
    assert left.isdisjoint(NEVER), sorted(left & set(NEVER))
    assert (tmp_path / "o.mp4").stat().st_size > 0
