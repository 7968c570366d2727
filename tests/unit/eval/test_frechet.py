import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from models.eval.feature_models import I3D_KWARGS, load_feature_net
from models.eval.frechet import feature_frechet_distance, frechet_distance, fvd, gaussian_stats
from models.world import render, sample_scene


def world_videos(
    n: int, seed: int, size: int = 32, frames: int = 8, held_out: bool | None = None
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack(
        [render(sample_scene(rng, size, frames, held_out=held_out), size, frames) for _ in range(n)]
    )


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians() -> None:
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = float(((mu_a - mu_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum())
    assert frechet_distance(mu_a, np.diag(var_a), mu_b, np.diag(var_b)) == pytest.approx(expected)


def test_identical_sets_are_at_distance_zero_and_shifted_sets_are_not() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 16))  # more samples than dimensions: full-rank covariances
    assert feature_frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)
    assert feature_frechet_distance(features, features + 0.5) == pytest.approx(16 * 0.25, rel=1e-6)
    # Rank-deficient covariances (N < D) still give a finite, non-negative distance.
    few = rng.normal(size=(5, 64))
    assert feature_frechet_distance(few, few) == pytest.approx(0.0, abs=1e-6)
    assert feature_frechet_distance(few, rng.normal(size=(5, 64))) > 1.0


def test_fvd_with_a_local_torchscript_video_network(video_net_file: Path) -> None:
    net = load_feature_net(video_net_file)
    assert net.spec.kind == "video" and net.spec.call_kwargs == {}
    real = world_videos(6, seed=0)
    assert fvd(real, real.copy(), net) == pytest.approx(0.0, abs=1e-6)
    noise = np.random.default_rng(1).integers(0, 256, size=real.shape, dtype=np.uint8)
    other_world = world_videos(6, seed=2)
    far, near = fvd(real, noise, net), fvd(real, other_world, net)
    assert far > near > 0.0


def test_gaussian_stats_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_stats(np.zeros((1, 4)))


class I3DLike(nn.Module):
    """The forward signature of the I3D TorchScript that FVD code uses."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 4)

    def forward(
        self, x: torch.Tensor, rescale: bool = True, resize: bool = True, return_features: bool = False
    ) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3, 4))
        if rescale or resize or not return_features:
            return pooled.sum(dim=1, keepdim=True)  # logits path: a different output shape
        return self.proj(pooled)


def test_an_i3d_signature_is_called_for_features(tmp_path: Path) -> None:
    path = tmp_path / "i3d.pt"
    torch.jit.save(torch.jit.script(I3DLike()), str(path))
    net = load_feature_net(path)
    assert net.spec.call_kwargs == I3D_KWARGS
    assert net.outputs(world_videos(2, seed=0, size=16, frames=4)).shape == (2, 4)


def test_a_spec_folder_sets_size_and_range(tmp_path: Path, video_net_file: Path) -> None:
    (tmp_path / "model.pt").write_bytes(video_net_file.read_bytes())
    (tmp_path / "feature_model.json").write_text(json.dumps({"input_size": 24, "value_range": [0, 1]}))
    net = load_feature_net(tmp_path)
    inputs = net.prepare(world_videos(2, seed=0))
    assert inputs.shape == (2, 3, 8, 24, 24)
    assert float(inputs.min()) >= 0.0 and float(inputs.max()) <= 1.0


def test_missing_or_invalid_feature_models_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_feature_net(tmp_path / "nothing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a TorchScript module"):
        load_feature_net(tmp_path / "junk.pt")
    (tmp_path / "feature_model.json").write_text('{"colour": "red"}')
    with pytest.raises(ValueError, match="unknown fields"):
        load_feature_net(tmp_path)
