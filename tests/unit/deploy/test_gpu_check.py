"""scripts/gpu_check.sh in its CPU dry run (tiny preset): every step runs and the one table prints.

The GPU run itself (base preset, fp32 / fp16 / fp16 + torch.compile) is pending a GPU machine. This test starts
four Python processes (tests/gpu, bench/backends.py, bench/peers.py, the table): 54 s on the 2-core host
with a benchmark holding one core (46 s of CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_dry_run_runs_every_step_and_prints_one_table(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "VIDEOGEN_GPU_CHECK_DRY": "1"}
    proc = subprocess.run(
        [str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "# GPU check (DRY RUN: CPU, tiny preset)" in out
    for step in ("tests", "backends", "peers"):
        assert f"| {step} | ok" in out
    assert "| base_unet |" in out and "| whole video |" in out  # bench/backends.py rows
    for precision in ("fp32", "fp16", "fp16+compile"):
        assert f"| {precision} | videogen |" in out and f"| {precision} | text-to-video-sd |" in out
    assert "| super_resolution |" in out and out.rstrip().endswith("all steps ok")
    results = json.loads((tmp_path / "peers.json").read_text())["results"]
    assert [r["precision"] for r in results] == ["fp32", "fp16", "fp16+compile"]
    assert all(c["seconds"] > 0 for r in results for c in r["contenders"].values())
