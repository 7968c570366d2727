"""VideoGen networks, the pipeline, presets and loading. Torch lives here; the service never imports it."""

import logging


class _NoTorchvisionNotice(logging.Filter):
    """transformers warns at import that CLIP image processors fall back to PIL without torchvision; we ship
    no torchvision on purpose (it does not import beside torch 2.13), so the notice is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision" not in record.getMessage()


logging.getLogger("transformers.utils.import_utils").addFilter(_NoTorchvisionNotice())

from models.flow_upsampler import FlowTemporalUpsampler
from models.pipeline_output import GenerationInterrupted, VideoGenPipelineOutput
from models.pipeline_videogen import VideoGenPipeline
from models.unet_video import VideoUNet
from models.video_decoder import VideoDecoder

__all__ = [
    "FlowTemporalUpsampler",
    "GenerationInterrupted",
    "VideoDecoder",
    "VideoGenPipeline",
    "VideoGenPipelineOutput",
    "VideoUNet",
]
