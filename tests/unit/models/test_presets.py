import torch

from models.presets import build_components
from models.tokenizer import DEFAULT_WORDS, build_tokenizer


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_base_preset_is_at_the_papers_scale() -> None:
    # Built on the meta device: shapes only, no memory.
    parts = build_components("base", device="meta")
    reference_unet = count(parts["reference_unet"])
    assert 855e6 < reference_unet < 865e6  # Stable Diffusion 1.5's UNet: 859.5M
    assert 120e6 < count(parts["text_encoder"]) < 125e6  # CLIP ViT-L/14 text tower: 123M
    assert 1.0e9 < count(parts["base_unet"]) < 2.0e9
    assert count(parts["sr_unet"]) > count(parts["base_unet"])  # extra conditioning channels
    assert count(parts["video_decoder"]) > count(parts["vae"].decoder)


def test_tiny_preset_is_a_few_megabytes() -> None:
    parts = build_components("tiny")
    total = sum(count(m) for m in parts.values() if isinstance(m, torch.nn.Module))
    assert total * 4 < 8e6


def test_offline_tokenizer_keeps_world_words_whole_and_spells_the_rest() -> None:
    tok = build_tokenizer()
    tokens = tok.convert_ids_to_tokens(tok("a cyan triangle moving left, fast!").input_ids)
    assert tokens[:5] == ["<|startoftext|>", "a</w>", "cyan</w>", "triangle</w>", "moving</w>"]
    assert "f" in tokens and "!</w>" in tokens  # unknown word falls back to letters, not to <unk>
    assert tok.model_max_length == 77
    for word in DEFAULT_WORDS:
        assert tok.tokenize(word) == [f"{word}</w>"]


def test_the_demo_text_encoder_keeps_one_word_apart_at_init() -> None:
    # The demo trains with its text encoder frozen at init: a caption's direction word must reach the denoisers
    # as its own vector. At CLIP's 0.02 init the two captions below embed almost alike at that position.
    parts = build_components("demo", seed=0)
    tokenizer, encoder = parts["tokenizer"], parts["text_encoder"]
    captions = [
        "a red circle moving up on a gray background",
        "a red circle moving down on a gray background",
    ]
    ids = tokenizer(
        captions, padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt"
    )
    with torch.no_grad():
        hidden = encoder(ids.input_ids)[0]
    position = int((ids.input_ids[0] != ids.input_ids[1]).nonzero()[0])
    cosine = torch.nn.functional.cosine_similarity(hidden[0, position], hidden[1, position], dim=0)
    assert cosine < 0.5
