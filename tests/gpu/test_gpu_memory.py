"""The CUDA peak-memory probe against real allocations on the card (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch

from worker.memory import CudaPeak, probe_for

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
MiB = 1024 * 1024


def test_the_cuda_probe_sees_a_stage_peak_and_forgets_it_at_reset():
    probe = probe_for("cuda")
    assert isinstance(probe, CudaPeak)
    probe.reset()
    before = probe.peak()
    block = torch.ones(256 * MiB // 4, device="cuda")  # 256 MiB of fp32
    del block
    during = probe.peak()
    assert during - before >= 256 * MiB
    probe.reset()
    assert probe.peak() < during - 200 * MiB
