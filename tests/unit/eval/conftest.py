"""Tiny real feature networks for the metric tests, saved the way users bring their own."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import CLIPConfig, CLIPModel

from models.tokenizer import build_tokenizer


class TinyVideoNet(nn.Module):
    """A random 3D conv net: (B, 3, F, S, S) -> (B, 8) features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 8, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x)).mean(dim=(2, 3, 4)) * 10.0


class TinyClassifier(nn.Module):
    """A random image classifier: (N, 3, S, S) -> (N, 5) logits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3)) * 20.0


@pytest.fixture(scope="session")
def video_net_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("fvd") / "video_net.pt"
    torch.jit.save(torch.jit.script(TinyVideoNet().eval()), str(path))
    return path


@pytest.fixture(scope="session")
def classifier_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("is_model")
    torch.jit.save(torch.jit.script(TinyClassifier().eval()), str(folder / "model.pt"))
    (folder / "feature_model.json").write_text('{"kind": "image", "input_size": 16, "value_range": [0, 1]}')
    return folder


@pytest.fixture(scope="session")
def tiny_pipe():  # -> VideoGenPipeline
    from models.loading import build_pipeline

    pipe = build_pipeline("tiny")
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="session")
def clip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP saved like a real checkpoint: model and tokenizer in one folder."""
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
        },
        projection_dim=16,
    )
    folder = tmp_path_factory.mktemp("clip")
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
