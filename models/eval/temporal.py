"""Temporal consistency of a video, measured from its pixels alone.

- ``mean_frame_difference``: mean absolute difference between neighbouring frames. Flicker raises it, but so does
  real motion, so read it beside the warping error.
- ``warping_error``: warp each frame onto its predecessor with a flow estimated by dense block matching, then take
  the mean absolute error. Motion that the flow explains costs nothing; flicker, smearing and content that
  appears from nowhere remain.

Both are in 8-bit levels (0-255, the units of the stored video), averaged over pixels, channels and frame pairs.
``psnr`` compares a video with ground truth (interpolation and reconstruction ablations).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

FLOW_BLOCK = 7  # side of the matching window, pixels
ZERO_MOTION_BIAS = (
    1e-3  # per pixel of displacement, in window-mean error units: ties go to the shortest motion
)


def as_video_tensor(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> float32 (F, 3, H, W) in 0-255; a float tensor (F, 3, H, W) in 0-255 passes through."""
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}")
        return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"a video tensor must be (F, 3, H, W), got {tuple(frames.shape)}")
    return frames.float()


def _shift(image: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """``out[..., y, x] = image[..., y + dy, x + dx]`` with edge replication; image (N, C, H, W)."""
    r = max(abs(dx), abs(dy))
    if r == 0:
        return image
    padded = F.pad(image, (r, r, r, r), mode="replicate")
    height, width = image.shape[-2:]
    return padded[..., r + dy : r + dy + height, r + dx : r + dx + width]


def block_matching(
    source: torch.Tensor, target: torch.Tensor, radius: int, block: int = FLOW_BLOCK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense integer flow by block matching, and the per-pixel error of ``target`` warped with it.

    For every pixel of ``source`` the displacement ``d`` (``|dx|, |dy| <= radius``) that minimises the mean
    absolute difference over a ``block`` x ``block`` window between ``source`` and ``target`` shifted by ``d``.

    Args:
        source, target: (N, C, H, W), any units.

    Returns:
        flow: (N, 2, H, W) int64, (dx, dy) with ``source[y, x] ~ target[y + dy, x + dx]``.
        error: (N, H, W), the channel-mean absolute difference between ``source`` and the warped ``target``.
    """
    if source.shape != target.shape or source.ndim != 4:
        raise ValueError(f"source and target must be equal (N, C, H, W), got {source.shape}, {target.shape}")
    n, _, height, width = source.shape
    best_cost = torch.full((n, height, width), float("inf"))
    best_error = torch.zeros(n, height, width)
    flow_x = torch.zeros(n, height, width, dtype=torch.int64)
    flow_y = torch.zeros_like(flow_x)
    pad = block // 2
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            error = (source - _shift(target, dx, dy)).abs().mean(dim=1)  # (N, H, W)
            cost = F.avg_pool2d(
                F.pad(error[:, None], (pad, pad, pad, pad), mode="replicate"), block, stride=1
            )[:, 0]
            cost = cost + ZERO_MOTION_BIAS * (abs(dx) + abs(dy))
            better = cost < best_cost
            best_cost = torch.where(better, cost, best_cost)
            best_error = torch.where(better, error, best_error)
            flow_x = torch.where(better, dx, flow_x)
            flow_y = torch.where(better, dy, flow_y)
    return torch.stack([flow_x, flow_y], dim=1), best_error


def default_radius(frames: torch.Tensor) -> int:
    """Search radius for block matching: 1/16 of the longer side (4 px at 64x64), at least 2."""
    return max(2, round(max(frames.shape[-2:]) / 16))


def warping_error(frames: np.ndarray | torch.Tensor, radius: int | None = None) -> float:
    """Mean absolute error (0-255) between each frame and its successor warped onto it by block matching.

    Args:
        frames: uint8 (F, H, W, 3), or float (F, 3, H, W) in 0-255; F >= 2.
        radius: block-matching search radius in pixels (default ``default_radius``).
    """
    video = as_video_tensor(frames)
    if video.shape[0] < 2:
        raise ValueError("warping error needs at least 2 frames")
    radius = default_radius(video) if radius is None else radius
    _, error = block_matching(video[:-1], video[1:], radius)
    return float(error.mean())


def mean_frame_difference(frames: np.ndarray | torch.Tensor) -> float:
    """Mean absolute difference (0-255) between neighbouring frames of a video (see ``warping_error``)."""
    video = as_video_tensor(frames)
    if video.shape[0] < 2:
        raise ValueError("frame difference needs at least 2 frames")
    return float((video[1:] - video[:-1]).abs().mean())


def psnr(frames: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of a video against ground truth of the same shape (peak 255)."""
    a, b = as_video_tensor(frames), as_video_tensor(reference)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))
