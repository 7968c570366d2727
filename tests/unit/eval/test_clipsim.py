from pathlib import Path

import numpy as np
import pytest
import torch

from models.eval.clipsim import CLIP_MEAN, CLIP_STD, ClipScorer
from models.world import render, sample_scene


def clip_video(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return render(sample_scene(rng, 48, 4, combo=("blue", "circle", "up", "black")), 48, 4)


def test_clipsim_equals_transformers_own_similarity(clip_folder: Path) -> None:
    scorer = ClipScorer.from_folder(clip_folder)
    frames, prompt = clip_video(), "a blue circle moving up on a black background"
    score = scorer.clipsim(frames, prompt)
    tokens = scorer.tokenizer([prompt], padding=True, return_tensors="pt")
    with torch.no_grad():
        out = scorer.model(**tokens, pixel_values=scorer.preprocess(frames))
        reference = out.logits_per_image[:, 0] / scorer.model.logit_scale.exp()  # cosine per frame
    assert score == pytest.approx(float(reference.mean()), abs=1e-5)
    assert -1.0 <= score <= 1.0


def test_embeddings_are_unit_norm_and_deterministic(clip_folder: Path) -> None:
    scorer = ClipScorer.from_folder(clip_folder)
    frames = clip_video()
    images = scorer.image_embeddings(frames, batch_size=3)  # batching must not change anything
    torch.testing.assert_close(images, scorer.image_embeddings(frames))
    torch.testing.assert_close(images.norm(dim=-1), torch.ones(4))
    texts = scorer.text_embeddings(["a red square", "a green triangle moving left"])
    torch.testing.assert_close(texts.norm(dim=-1), torch.ones(2))
    assert not torch.allclose(texts[0], texts[1])


def test_preprocessing_resizes_and_normalises(clip_folder: Path) -> None:
    scorer = ClipScorer.from_folder(clip_folder)
    white = np.full((2, 48, 48, 3), 255, dtype=np.uint8)
    pixels = scorer.preprocess(white)
    assert pixels.shape == (2, 3, 32, 32)
    expected = (1.0 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(pixels[0, :, 5, 5], expected)


def test_a_folder_without_clip_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no CLIP model"):
        ClipScorer.from_folder(tmp_path)
