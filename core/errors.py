"""The project's error hierarchy. Each error has a stable ``code`` clients can branch on; only ``service/`` maps
codes to HTTP statuses."""

from __future__ import annotations


class VideoGenError(Exception):
    """Base of every error the project raises on purpose."""

    code = "internal_error"


class InvalidInputError(VideoGenError):
    code = "invalid_input"


class InvalidReferenceError(InvalidInputError):
    code = "invalid_reference"


class ModelLoadError(VideoGenError):
    code = "model_error"
