"""The one stage vocabulary. A *pipeline stage* is a step of ``models.VideoGenPipeline`` that reports progress
through its callback (``PIPELINE_STAGES``, in run order); the worker adds two *job phases* of its own after the
pipeline returns (``encode``: MP4/JPEG/PNG encoding, ``upload``: writing the files to storage). ``JOB_STAGES`` is
all of them in the order a job passes through; it is what ``Video.progress.stage`` names and what metrics and
bench label by.

Not to be confused with *training components* (``videogen train vae|reference|base|sr|upsampler|decoder``):
those name which network a training run fits, not a step of a generation.

Torch-free: ``models/`` imports it too.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """A step of one generation. The values are the wire names (Redis progress, API, logs, metrics)."""

    REFERENCE = "reference"  # the reference frame (or encoding the client's image)
    BASE = "base"  # the low-resolution, low-frame-rate base video
    SUPER_RESOLUTION = "super_resolution"
    TEMPORAL_UPSAMPLING = "temporal_upsampling"  # flow-based frame-rate doublings
    DECODE = "decode"  # latents to pixels
    ENCODE = "encode"  # job phase: pixels to MP4 / thumbnail / reference PNG
    UPLOAD = "upload"  # job phase: files to storage


PIPELINE_STAGES: tuple[Stage, ...] = (
    Stage.REFERENCE,
    Stage.BASE,
    Stage.SUPER_RESOLUTION,
    Stage.TEMPORAL_UPSAMPLING,
    Stage.DECODE,
)
JOB_PHASES: tuple[Stage, ...] = (Stage.ENCODE, Stage.UPLOAD)
JOB_STAGES: tuple[Stage, ...] = (*PIPELINE_STAGES, *JOB_PHASES)

# Frame-rate doublings the temporal upsampling stage may apply (2x, 4x, 8x).
MAX_TEMPORAL_UPSAMPLING = 3
