"""Inception score (Salimans et al., 2016) from a local classifier: ``exp(E_x KL(p(y|x) || p(y)))``.

With an ``image`` classifier every frame is a sample; with a ``video`` classifier (the C3D-style IS of video
papers) every video is. 1 means the classifier sees the same class mix in every sample; the maximum is the number
of classes.
"""

from __future__ import annotations

import numpy as np

from models.eval.feature_models import FeatureNet


def inception_score_from_probs(probs: np.ndarray, splits: int = 1) -> tuple[float, float]:
    """Mean and standard deviation over ``splits`` of the IS of class probabilities (N, K) (rows sum to 1)."""
    if probs.ndim != 2 or len(probs) < splits or splits < 1:
        raise ValueError(f"probabilities must be (N, K) with N >= splits >= 1, got {probs.shape}, {splits}")
    probs = probs.astype(np.float64)
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(np.clip(part, 1e-12, None)) - np.log(np.clip(marginal, 1e-12, None)))).sum(
            axis=1
        )
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, float64."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def inception_score(videos: np.ndarray, net: FeatureNet, splits: int = 1) -> tuple[float, float]:
    """IS (mean, std over splits) of uint8 videos (N, F, H, W, 3) under a classifier returning logits."""
    return inception_score_from_probs(softmax(net.outputs(videos)), splits=splits)
