"""Accelerated inference: ONNX export specs and export, TensorRT engine build and runtime, backend choice.

Knows the models, not the service. ``tensorrt`` is imported lazily: this package imports on CPU hosts.
"""
