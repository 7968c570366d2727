"""Video and image files: H.264 MP4 encoding/decoding and thumbnails (numpy + imageio-ffmpeg + Pillow, no torch)."""

from __future__ import annotations

import io
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

MP4_MIME = "video/mp4"


def _check_rgb_frames(frames: np.ndarray) -> np.ndarray:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = _check_rgb_frames(frames)
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"yuv420p needs even height and width, got {frames.shape[2]}x{frames.shape[1]}")
    return frames


def encode_mp4(frames: np.ndarray, fps: float) -> bytes:
    """Encode uint8 frames (F, H, W, 3) as an H.264 yuv420p MP4 that browsers play, deterministic for equal input.

    ``+faststart`` puts the index first so a browser can start playing (and seeking) before the file is complete.
    """
    frames = _check_frames(frames)
    return iio.imwrite(
        "<bytes>",
        frames,
        extension=".mp4",
        plugin="FFMPEG",
        fps=fps,
        codec="libx264",
        macro_block_size=1,
        pixelformat="yuv420p",
        output_params=["-movflags", "+faststart", "-preset", "veryfast", "-crf", "18"],
    )


def write_mp4(frames: np.ndarray, path: str | Path, fps: float) -> Path:
    """Write ``encode_mp4(frames, fps)`` to ``path``."""
    path = Path(path)
    path.write_bytes(encode_mp4(frames, fps))
    return path


def read_video(source: str | Path | bytes) -> np.ndarray:
    """Decode a video file (path or bytes) to uint8 (F, H, W, 3)."""
    return np.asarray(
        iio.imread(source, extension=".mp4" if isinstance(source, bytes) else None, plugin="FFMPEG")
    )


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    """Lossless PNG bytes of an image (H, W, 3) uint8 or PIL image."""
    img = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def _scaled(img: Image.Image, max_side: int) -> Image.Image:
    """``img`` upscaled (nearest) or downscaled (Lanczos) so its longer side is ``max_side``."""
    scale = max_side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def thumbnail_jpeg(frame: np.ndarray, max_side: int = 256, quality: int = 85) -> bytes:
    """A JPEG thumbnail of one frame (H, W, 3) uint8, upscaled (nearest) or downscaled so its longer side is max_side."""
    return _jpeg(_scaled(Image.fromarray(frame), max_side), quality)


def spritesheet_jpeg(
    frames: np.ndarray, tiles: int = 16, columns: int = 4, tile_side: int = 128, quality: int = 85
) -> bytes:
    """A JPEG grid of up to ``tiles`` evenly spaced frames of uint8 ``frames`` (F, H, W, 3), ``columns`` wide,
    row by row in time order; each tile scaled (nearest up, Lanczos down) so its longer side is ``tile_side``
    (OpenAI's ``variant=spritesheet``)."""
    frames = _check_rgb_frames(np.asarray(frames))
    picks = np.unique(np.linspace(0, len(frames) - 1, min(tiles, len(frames))).round().astype(int))
    cells = [_scaled(Image.fromarray(frames[i]), tile_side) for i in picks]
    width, height = cells[0].size
    cols = min(columns, len(cells))
    sheet = Image.new("RGB", (cols * width, -(-len(cells) // cols) * height))
    for i, cell in enumerate(cells):
        sheet.paste(cell, ((i % cols) * width, (i // cols) * height))
    return _jpeg(sheet, quality)
