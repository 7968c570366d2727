"""Fréchet distance between Gaussian fits of two feature sets, and FVD (Unterthiner et al., 2018) on top of it.

``d^2 = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. The trace of the matrix square root is computed as
the sum of the square roots of the eigenvalues of ``S_a^(1/2) S_b S_a^(1/2)`` (symmetric, positive semi-definite,
same eigenvalues as ``S_a S_b``), with ``numpy.linalg.eigh`` in float64: no scipy, and stable when the
covariances are rank-deficient (fewer videos than feature dimensions, the usual case on small sets).
"""

from __future__ import annotations

import numpy as np

from models.eval.feature_models import FeatureNet


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues clipped)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), N >= 2."""
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must be (N, D) with N >= 2, got {features.shape}")
    features = features.astype(np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], -1)


def frechet_distance(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu_a, sigma_a) and N(mu_b, sigma_b); >= 0."""
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape:
        raise ValueError(f"statistics differ in shape: {mu_a.shape} vs {mu_b.shape}")
    root_a = _psd_sqrt(sigma_a)
    middle = root_a @ sigma_b @ root_a
    trace_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum())
    distance = float(((mu_a - mu_b) ** 2).sum() + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * trace_sqrt)
    return max(distance, 0.0)


def feature_frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between two feature sets (N_a, D) and (N_b, D)."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def fvd(real_videos: np.ndarray, generated_videos: np.ndarray, net: FeatureNet) -> float:
    """Fréchet video distance between two sets of uint8 videos (N, F, H, W, 3) under a video feature network.

    Small sets give a biased, high-variance estimate: compare FVDs only at equal set sizes.
    """
    if net.spec.kind != "video":
        raise ValueError(f"FVD needs a video feature network; {net.name} is an {net.spec.kind} model")
    return feature_frechet_distance(net.outputs(real_videos), net.outputs(generated_videos))
