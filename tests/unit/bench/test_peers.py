"""bench/peers.py's peers: built on videogen's own VAE, text encoder and tokenizer, UNets of videogen's widths,
and each makes the video it is asked for (tiny preset, 2 frames, 1 step)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest
import torch

from models.loading import build_pipeline


@pytest.fixture(scope="module")
def peers(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("peers")


@pytest.mark.parametrize("name", ["text-to-video-sd", "animatediff"])
def test_a_peer_shares_the_vae_and_text_encoder_and_matches_the_unet_widths(
    peers: ModuleType, name: str
) -> None:
    pipe = build_pipeline("tiny")
    peer = peers.build_peer(name, pipe)
    assert (
        peer.vae is pipe.vae and peer.text_encoder is pipe.text_encoder and peer.tokenizer is pipe.tokenizer
    )
    ours, theirs = pipe.base_unet.unet.config, peer.unet.config
    for key in ("block_out_channels", "layers_per_block", "norm_num_groups", "cross_attention_dim"):
        assert (
            tuple(theirs[key]) == tuple(ours[key])
            if key == "block_out_channels"
            else theirs[key] == ours[key]
        )
    assert type(peer.scheduler) is type(pipe.scheduler)
    with torch.no_grad():
        frames = peer(
            "a red circle",
            num_frames=2,
            height=16,
            width=16,
            num_inference_steps=1,
            guidance_scale=3.0,
            generator=torch.Generator().manual_seed(0),
            output_type="np",
        ).frames
    assert frames.shape == (1, 2, 16, 16, 3)


def test_an_unknown_peer_is_refused(peers: ModuleType) -> None:
    with pytest.raises(ValueError, match="unknown peer"):
        peers.build_peer("sora", build_pipeline("tiny"))


def test_the_timed_decoder_runs_as_many_temporal_stages_as_the_shipped_demo(peers: ModuleType) -> None:
    decoder = build_pipeline("tiny").video_decoder
    count = len(decoder.temporal_mixers)
    with torch.no_grad():
        assert decoder.identity_mixers() == [True] * count
        peers.run_trained_mixers(decoder, 2)
        assert decoder.identity_mixers() == [False, False] + [True] * (count - 2)
