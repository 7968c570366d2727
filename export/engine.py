"""TensorRT engine runtime on torch CUDA tensors; knows no model, only the engine's tensor names.

``tensorrt`` is imported lazily (it installs only on GPU hosts, from the ``gpu`` extra). Inputs and outputs are
torch tensors on the engine's device; the engine runs on the current torch CUDA stream, so it orders with the
torch work before and after it and nothing is copied to the host.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from core.errors import ExportError

logger = logging.getLogger(__name__)


class TensorRTUnavailable(ExportError):
    """TensorRT cannot run here; the message says why (package, library or device)."""


def import_tensorrt() -> ModuleType:
    """``import tensorrt``, raising ``TensorRTUnavailable`` with the reason where it cannot be imported."""
    try:
        import tensorrt
    except ImportError as exc:
        missing = getattr(exc, "name", None) == "tensorrt"
        raise TensorRTUnavailable(
            "package not installed" if missing else f"package does not load ({exc})"
        ) from exc
    except OSError as exc:  # the bindings are there but libnvinfer is not
        raise TensorRTUnavailable(f"TensorRT libraries do not load ({exc})") from exc
    return tensorrt


@dataclass(frozen=True)
class TensorRTEnvironment:
    """What decides whether a TensorRT engine can run here and which engine fits: the TensorRT version and
    the GPU model (engines are specific to both)."""

    version: str | None = None
    gpu: str | None = None
    unavailable: str | None = None  # the reason, where TensorRT cannot run

    @classmethod
    def probe(cls, device: torch.device | str) -> TensorRTEnvironment:
        device = torch.device(device)
        try:
            trt = import_tensorrt()
        except TensorRTUnavailable as exc:
            return cls(unavailable=str(exc))
        if not torch.cuda.is_available():
            return cls(version=trt.__version__, unavailable="no CUDA device")
        if device.type != "cuda":
            return cls(version=trt.__version__, unavailable=f"the pipeline runs on {device.type}")
        return cls(version=trt.__version__, gpu=gpu_model(device))


def gpu_model(device: torch.device) -> str:
    """e.g. ``"NVIDIA H100 80GB HBM3 (sm_90)"``: the name and compute capability an engine is tied to."""
    major, minor = torch.cuda.get_device_capability(device)
    return f"{torch.cuda.get_device_name(device)} (sm_{major}{minor})"


def torch_dtype(trt: ModuleType, dtype: Any) -> torch.dtype:
    table = {
        trt.float32: torch.float32,
        trt.float16: torch.float16,
        trt.bfloat16: torch.bfloat16,
        trt.int32: torch.int32,
        trt.int64: torch.int64,
        trt.int8: torch.int8,
        trt.bool: torch.bool,
    }
    if dtype not in table:
        raise ExportError(f"TensorRT tensor type {dtype} has no torch equivalent")
    return table[dtype]


class TensorRTEngine:
    """A deserialized engine with one execution context (one caller at a time).

    Raises ``ExportError`` where the file does not deserialize (another TensorRT version or GPU, a broken file)
    or no context can be made (out of GPU memory).
    """

    def __init__(self, path: Path, device: torch.device | str = "cuda") -> None:
        trt = import_tensorrt()
        self.device = torch.device(device)
        self.path = path
        self._logger = trt.Logger(trt.Logger.WARNING)
        trt.init_libnvinfer_plugins(self._logger, "")
        self._runtime = trt.Runtime(self._logger)
        with torch.cuda.device(self.device):
            self.engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
            if self.engine is None:
                raise ExportError(f"TensorRT could not deserialize {path}")
            self.context = self.engine.create_execution_context()
        if self.context is None:
            raise ExportError(f"TensorRT could not create an execution context for {path}")
        self.inputs: dict[str, torch.dtype] = {}
        self.outputs: dict[str, torch.dtype] = {}
        self.profile: dict[str, tuple[tuple[int, ...], ...]] = {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            dtype = torch_dtype(trt, self.engine.get_tensor_dtype(name))
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self.inputs[name] = dtype
                shapes = self.engine.get_tensor_profile_shape(name, 0)  # [min, opt, max]
                self.profile[name] = tuple(tuple(s) for s in shapes)
            else:
                self.outputs[name] = dtype

    @property
    def name(self) -> str:
        return "tensorrt"

    def unsupported(self, shapes: dict[str, tuple[int, ...]]) -> str | None:
        """Why these input shapes fall outside the engine's optimization profile, or None if they fit."""
        for name, shape in shapes.items():
            lo, _opt, hi = self.profile[name]
            if len(shape) != len(lo) or any(s < a or s > b for s, a, b in zip(shape, lo, hi, strict=False)):
                return f"{name} shape {tuple(shape)} is outside the engine profile {lo}..{hi}"
        return None

    def run(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Enqueue the engine on the current CUDA stream; outputs are new tensors on ``self.device``."""
        stream = torch.cuda.current_stream(self.device)
        # Cast copies must stay alive until enqueued: freed earlier, their memory could back another input.
        # After the enqueue, reuse by later work on this same stream is ordered after the engine.
        kept = []
        for name, dtype in self.inputs.items():
            tensor = feeds[name].to(self.device, dtype).contiguous()
            kept.append(tensor)
            if not self.context.set_input_shape(name, tuple(tensor.shape)):
                raise ExportError(f"TensorRT rejected shape {tuple(tensor.shape)} for {name}")
            self.context.set_tensor_address(name, tensor.data_ptr())
        outputs = {}
        for name, dtype in self.outputs.items():
            shape = tuple(self.context.get_tensor_shape(name))
            if any(s < 0 for s in shape):
                raise ExportError(f"TensorRT could not infer the shape of {name}: {shape}")
            out = torch.empty(shape, dtype=dtype, device=self.device)
            self.context.set_tensor_address(name, out.data_ptr())
            outputs[name] = out
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise ExportError(f"TensorRT execution failed for {self.path.name}")
        del kept
        return outputs
