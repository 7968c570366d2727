"""ONNX Runtime runner on torch tensors; knows no model, only a graph's input and output names.

Inputs are bound by pointer (IOBinding) and outputs handed back through DLPack, so on the CUDA provider tensors
stay on the GPU and the session runs on the caller's torch CUDA stream. On CPU the same path avoids copies too.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from core.errors import ExportError
from export import prewarm

logger = logging.getLogger(__name__)

_ORT_TO_TORCH = {
    "tensor(float)": torch.float32,
    "tensor(float16)": torch.float16,
    "tensor(bfloat16)": torch.bfloat16,
    "tensor(int64)": torch.int64,
    "tensor(int32)": torch.int32,
    "tensor(bool)": torch.bool,
}
_TORCH_TO_NUMPY = {
    torch.float32: np.float32,
    torch.float16: np.float16,
    torch.int64: np.int64,
    torch.int32: np.int32,
    torch.bool: np.bool_,
}


def cuda_provider_available() -> bool:
    return "CUDAExecutionProvider" in ort.get_available_providers()


class OrtRunner:
    """One ``InferenceSession`` for one ONNX file.

    Args:
        path: the ``.onnx`` file (external data is found beside it).
        device: where outputs are returned; a CUDA device selects the CUDA provider where this onnxruntime
            has it (``onnxruntime-gpu``), else the graph runs on CPU with copies in and out.
        providers: override the provider list (e.g. ``["CPUExecutionProvider"]``).
        threads: intra-op threads on CPU (None: ONNX Runtime's default, one per physical core).
    """

    def __init__(
        self,
        path: Path,
        device: torch.device | str = "cpu",
        providers: list[str] | None = None,
        threads: int | None = None,
    ) -> None:
        self.device = torch.device(device)
        if providers is None:
            providers = ["CPUExecutionProvider"]
            if self.device.type == "cuda" and cuda_provider_available():
                providers = [self._cuda_provider(), *providers]  # type: ignore[list-item]
        # Opened already, in the background, by a cold `videogen generate` (export.prewarm), else here.
        session = prewarm.take(path, threads, providers)
        if session is None:
            try:
                session = ort.InferenceSession(
                    str(path), prewarm.session_options(threads), providers=providers
                )
            except Exception as exc:  # onnxruntime raises its own pybind exception types
                raise ExportError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        self.session = session
        self.provider = self.session.get_providers()[0]
        self.on_gpu = self.provider == "CUDAExecutionProvider"
        self.inputs = {i.name: _ORT_TO_TORCH[i.type] for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._binding_device = ("cuda", self.device.index or 0) if self.on_gpu else ("cpu", 0)

    def _cuda_provider(self) -> tuple[str, dict[str, str]]:
        stream = torch.cuda.current_stream(self.device)
        return (
            "CUDAExecutionProvider",
            {"device_id": str(self.device.index or 0), "user_compute_stream": str(stream.cuda_stream)},
        )

    @property
    def name(self) -> str:
        return f"onnxruntime ({self.provider})"

    def unsupported(self, shapes: dict[str, tuple[int, ...]]) -> str | None:
        """ONNX graphs take any size along their dynamic axes."""
        return None

    def run(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run the graph; ``feeds`` must hold every input by name. Outputs are on ``self.device``."""
        missing = set(self.inputs) - set(feeds)
        if missing:
            raise ExportError(f"ONNX graph inputs {sorted(missing)} were not given")
        target = self.device if self.on_gpu else torch.device("cpu")
        binding = self.session.io_binding()
        kept = []  # the bound tensors must outlive the run
        for name, dtype in self.inputs.items():
            tensor = feeds[name].to(target, dtype).contiguous()
            kept.append(tensor)
            binding.bind_input(
                name, *self._binding_device, _TORCH_TO_NUMPY[dtype], list(tensor.shape), tensor.data_ptr()
            )
        for name in self.output_names:
            binding.bind_output(name, *self._binding_device)
        self.session.run_with_iobinding(binding)
        values = binding.get_outputs()
        return {name: _to_torch(v).to(self.device) for name, v in zip(self.output_names, values, strict=True)}


def _to_torch(value: ort.OrtValue) -> torch.Tensor:
    """Zero-copy through DLPack where this onnxruntime exposes it, else through numpy (a host copy)."""
    c_value = getattr(value, "_ortvalue", None)
    if c_value is not None and hasattr(c_value, "__dlpack__"):
        return torch.from_dlpack(c_value)
    return torch.from_numpy(value.numpy())
