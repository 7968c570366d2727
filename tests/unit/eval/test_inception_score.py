from pathlib import Path

import numpy as np
import pytest

from models.eval.feature_models import load_feature_net
from models.eval.inception_score import inception_score, inception_score_from_probs
from models.world import render, sample_scene


def test_uniform_predictions_score_one() -> None:
    mean, std = inception_score_from_probs(np.full((10, 7), 1 / 7))
    assert mean == pytest.approx(1.0) and std == 0.0


def test_confident_distinct_predictions_score_the_class_count() -> None:
    assert inception_score_from_probs(np.eye(5))[0] == pytest.approx(5.0)
    # Confident but always the same class: no diversity, IS 1.
    assert inception_score_from_probs(np.tile(np.eye(5)[:1], (5, 1)))[0] == pytest.approx(1.0)


def test_splits() -> None:
    probs = np.concatenate([np.eye(4), np.full((4, 4), 0.25)])
    mean, std = inception_score_from_probs(probs, splits=2)
    assert mean == pytest.approx((4.0 + 1.0) / 2) and std == pytest.approx(1.5)
    with pytest.raises(ValueError):
        inception_score_from_probs(probs, splits=9)


def test_inception_score_with_a_local_image_classifier(classifier_folder: Path) -> None:
    net = load_feature_net(classifier_folder)
    assert net.spec.kind == "image" and net.spec.input_size == 16
    rng = np.random.default_rng(0)
    videos = np.stack([render(sample_scene(rng, 32, 4, held_out=None), 32, 4) for _ in range(6)])
    mean, _ = inception_score(videos, net)
    assert 1.0 <= mean <= 5.0  # between one class for everything and all 5 classes used evenly
    probs_per_frame = net.outputs(videos)
    assert probs_per_frame.shape == (6 * 4, 5)  # an image model scores every frame
