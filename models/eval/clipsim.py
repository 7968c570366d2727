"""CLIPSIM (Wu et al., GODIVA 2021; the VideoGen paper's text-video metric): the mean cosine similarity between the
CLIP embedding of the prompt and the CLIP embedding of every frame, from a CLIP checkpoint in a local folder.

The folder is what ``CLIPModel.save_pretrained`` plus the tokenizer's ``save_pretrained`` write (e.g. a copy of
``openai/clip-vit-base-patch32``); ``preprocessor_config.json``, when present, gives the input size and the
normalisation, else CLIP's own constants are used. Frames are resized in torch (bicubic, antialiased): no
torchvision, no image processor download.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, CLIPModel, PreTrainedTokenizerBase

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ClipScorer:
    """CLIP text and image embeddings and their similarity.

    Args:
        model: a ``CLIPModel`` (eval mode, on CPU or any device).
        tokenizer: its tokenizer.
        mean, std: per-channel pixel normalisation of the vision tower, for pixels in [0, 1].
    """

    def __init__(
        self,
        model: CLIPModel,
        tokenizer: PreTrainedTokenizerBase,
        mean: tuple[float, float, float] = CLIP_MEAN,
        std: tuple[float, float, float] = CLIP_STD,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.image_size = int(model.config.vision_config.image_size)
        self.mean = torch.tensor(mean).reshape(1, 3, 1, 1)
        self.std = torch.tensor(std).reshape(1, 3, 1, 1)

    @classmethod
    def from_folder(cls, path: str | Path) -> ClipScorer:
        """Load a CLIP model and tokenizer saved in ``path``; ``FileNotFoundError`` if it is not there."""
        path = Path(path).expanduser()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"no CLIP model in {path}: {path / 'config.json'} is missing")
        model = CLIPModel.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        mean, std = CLIP_MEAN, CLIP_STD
        preprocessor = path / "preprocessor_config.json"
        if preprocessor.is_file():
            config = json.loads(preprocessor.read_text())
            mean = tuple(config.get("image_mean", mean))
            std = tuple(config.get("image_std", std))
        return cls(model, tokenizer, mean, std)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def text_embeddings(self, texts: list[str]) -> torch.Tensor:
        """Unit-norm text embeddings (T, D)."""
        max_length = self.model.config.text_config.max_position_embeddings
        tokens = self.tokenizer(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(self.device)
        pooled = self.model.text_model(
            input_ids=tokens["input_ids"], attention_mask=tokens.get("attention_mask")
        ).pooler_output
        return F.normalize(self.model.text_projection(pooled).float(), dim=-1)

    def preprocess(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 frames (N, H, W, 3) -> normalised pixel values (N, 3, S, S) for the vision tower."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (N, H, W, 3), got {frames.dtype} {frames.shape}")
        pixels = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
        size = (self.image_size, self.image_size)
        pixels = F.interpolate(pixels, size=size, mode="bicubic", antialias=True).clamp(0, 1)
        return (pixels - self.mean) / self.std

    @torch.no_grad()
    def image_embeddings(self, frames: np.ndarray, batch_size: int = 32) -> torch.Tensor:
        """Unit-norm image embeddings (N, D) of uint8 frames (N, H, W, 3)."""
        parts = []
        for start in range(0, len(frames), batch_size):
            pixels = self.preprocess(frames[start : start + batch_size]).to(self.device, self.model.dtype)
            pooled = self.model.vision_model(pixel_values=pixels).pooler_output
            parts.append(F.normalize(self.model.visual_projection(pooled).float(), dim=-1))
        return torch.cat(parts)

    def clipsim(self, frames: np.ndarray, prompt: str) -> float:
        """Mean over frames of cos(CLIP(frame), CLIP(prompt)) for one uint8 video (F, H, W, 3); in [-1, 1]."""
        text = self.text_embeddings([prompt])  # (1, D)
        images = self.image_embeddings(frames)  # (F, D)
        return float((images @ text.T).mean())
