"""An offline CLIP tokenizer: a small byte-pair vocabulary built in code, no download.

Real checkpoints ship their own tokenizer (``tokenizer/`` in the diffusers layout); this one exists so that the
tiny and demo models need nothing from the internet. Every letter, digit and common punctuation mark is a token,
so any prompt tokenizes (unknown words fall back to letters); the given words are single tokens.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterable

from transformers import CLIPTokenizer

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
MODEL_MAX_LENGTH = 77

# Words of the synthetic world (models/world.py) plus a few common ones; enough for the tiny and demo models.
DEFAULT_WORDS: tuple[str, ...] = (
    "a",
    "an",
    "the",
    "on",
    "of",
    "in",
    "and",
    "with",
    "moving",
    "background",
    "red",
    "green",
    "blue",
    "yellow",
    "cyan",
    "magenta",
    "black",
    "gray",
    "white",
    "circle",
    "square",
    "triangle",
    "left",
    "right",
    "up",
    "down",
)


def build_tokenizer(words: Iterable[str] = DEFAULT_WORDS) -> CLIPTokenizer:
    """Build a CLIP BPE tokenizer whose vocabulary holds single characters and the given whole words.

    Merges build each word left to right (``r e`` -> ``re``, ``re d</w>`` -> ``red</w>``), the same scheme CLIP's
    real merges follow, so ``save_pretrained`` / ``from_pretrained`` round-trip like any CLIP tokenizer.
    """
    vocab: dict[str, int] = {BOS: 0, EOS: 1}
    symbols = string.ascii_lowercase + string.digits + string.punctuation
    for suffix in ("", "</w>"):
        for ch in symbols:
            vocab.setdefault(ch + suffix, len(vocab))
    merges: list[tuple[str, str]] = []
    ranks: dict[tuple[str, str], int] = {}
    for word in words:
        pieces = list(word.lower())
        pieces[-1] += "</w>"
        # Tokenize with the merges so far (lowest rank first, as BPE does); wherever that stops short of one
        # token, add a merge for the leftmost pair. New merges rank after all earlier ones, so they never change
        # how an earlier word tokenizes.
        while len(pieces) > 1:
            pairs = [(ranks.get(pair, len(ranks)), i) for i, pair in enumerate(itertools.pairwise(pieces))]
            _, i = min(pairs)
            pair = (pieces[i], pieces[i + 1])
            if pair not in ranks:
                ranks[pair] = len(ranks)
                merges.append(pair)
                vocab.setdefault(pair[0] + pair[1], len(vocab))
            pieces[i : i + 2] = [pair[0] + pair[1]]
    return CLIPTokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=EOS,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=EOS,
        model_max_length=MODEL_MAX_LENGTH,
    )
