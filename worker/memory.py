"""Peak memory per stage of a job (the video's ``memory`` field and the ``videogen_stage_peak_memory_bytes``
histogram), so an operator can size workers from what real jobs used:

- on a CUDA device, the most memory torch's allocator held during the stage, weights included: what the stage
  needs on the card (engines of TensorRT or ONNX Runtime allocate outside torch and are not counted: read the
  card's total from DCGM);
- on a CPU, the process's peak resident set during the stage (Linux: the kernel's high-water mark ``VmHWM``,
  reset at each stage start through ``/proc/self/clear_refs``; where that is not possible, the resident set at the
  stage's end; without ``/proc``, the process's lifetime peak).
"""

from __future__ import annotations

import contextlib
import logging
import resource
import sys
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

PROC_STATUS = Path("/proc/self/status")
PROC_CLEAR_REFS = Path("/proc/self/clear_refs")
RESET_PEAK_RSS = "5"  # proc(5): "reset the peak resident set size to the process's current resident set size"


class MemoryProbe(Protocol):
    """``reset()`` when a stage starts, ``peak()`` (bytes, or None when unknown) when it ends."""

    def reset(self) -> None: ...

    def peak(self) -> int | None: ...


class CudaPeak:
    """Peak bytes torch allocated on ``device`` since the last ``reset``."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)

    def reset(self) -> None:
        self.torch.cuda.reset_peak_memory_stats(self.device)

    def peak(self) -> int | None:
        return int(self.torch.cuda.max_memory_allocated(self.device))


class HostPeak:
    """Peak resident set of this process since the last ``reset`` (see the module docstring)."""

    def __init__(self, status: Path = PROC_STATUS, clear_refs: Path = PROC_CLEAR_REFS) -> None:
        self.status, self.clear_refs = status, clear_refs
        self.resettable = True

    def reset(self) -> None:
        if not self.resettable:
            return
        try:
            self.clear_refs.write_text(RESET_PEAK_RSS)
        except OSError as exc:  # not Linux, or a kernel/sandbox that refuses it
            self.resettable = False
            logger.info(
                "peak memory per stage: cannot reset the high-water mark (%s); reporting the resident set"
                " at each stage's end instead",
                exc,
            )

    def peak(self) -> int | None:
        fields = self._status_kib()
        if self.resettable and "VmHWM" in fields:
            return fields["VmHWM"] * 1024
        if "VmRSS" in fields:
            return fields["VmRSS"] * 1024
        return _max_rss_bytes()

    def _status_kib(self) -> dict[str, int]:
        with contextlib.suppress(OSError):
            out = {}
            for line in self.status.read_text().splitlines():
                name, _, value = line.partition(":")
                if name in ("VmHWM", "VmRSS"):
                    out[name] = int(value.split()[0])
            return out
        return {}


def _max_rss_bytes() -> int:
    """The process's lifetime peak resident set (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def probe_for(device: str) -> MemoryProbe:
    """The probe for a worker's device: ``cuda``/``cuda:N`` -> ``CudaPeak``, anything else -> ``HostPeak``."""
    return CudaPeak(device) if device.startswith("cuda") else HostPeak()
