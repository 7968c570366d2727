"""Is it the decoder's size that rounds the corners? Image decoders of several widths, each trained from scratch
for the same steps on the frozen encoder's latents of world frames, scored on encoded ground-truth squares against
the model's own image decoder.

    .venv/bin/python bench/decoder_capacity.py --model demo --steps 500 --threads 2 \
        --variants 16,32,32x1 32,64,64x2 --out eval/decoder_capacity.json

A variant ``16,32,32x1`` is diffusers' ``Decoder`` with those ``block_out_channels`` and 1 layer per block (the
demo VAE's own shape); every variant sees the same frames in the same order and is trained with step 5's loss
(L1 + MSE + 2 x gradient difference, ``models.train.losses.edge_loss``), AdamW at ``--lr`` with 50 warm-up steps.
The latents are the encoder's posterior mode, as every stage is trained on, so a decoder that wins here can
replace the shipped one without retraining anything upstream (an asymmetric autoencoder). Scores: over ``--clips``
square clips (9 frames each, drawn from ``--seed``), each frame decoded alone: square fill, edge width and interior
error (``models.eval.shape_quality``), PSNR against the render. The table prints the mean; the JSON has every clip's
figure. A decoder trained for only a few hundred steps is under-trained: read the widths against each other, and
the model's own decoder (trained for thousands of steps) as the bar.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.models.autoencoders.vae import Decoder
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.eval.shape_quality import shape_quality  # noqa: E402
from models.eval.temporal import psnr  # noqa: E402
from models.loading import load_pipeline  # noqa: E402
from models.pipeline_videogen import VideoGenPipeline  # noqa: E402
from models.train.data import to_tensor  # noqa: E402
from models.train.losses import edge_loss  # noqa: E402
from models.train.recipes import to_uint8  # noqa: E402
from models.world import combinations, render, sample_scene  # noqa: E402

WARMUP_STEPS = 50
FRAMES = 9  # frames a rendered clip has (training takes one of them)
MEASURES = ("square_fill", "edge_width", "interior_error", "psnr")


def parse_variant(text: str) -> tuple[tuple[int, ...], int]:
    """``"32,64,64x2"`` -> ((32, 64, 64), 2)."""
    channels, _, layers = text.partition("x")
    try:
        return tuple(int(c) for c in channels.split(",")), int(layers or 1)
    except ValueError:
        raise ValueError(f"variant {text!r} is not CHANNELS,..xLAYERS (e.g. 32,64,64x2)") from None


def build_decoder(pipe: VideoGenPipeline, channels: tuple[int, ...], layers: int) -> Decoder:
    """A decoder from the VAE's latents to pixels, shaped as the VAE's own but for width and depth (its number of
    blocks, hence its upsampling factor, must match)."""
    config = pipe.vae.config
    if len(channels) != len(config.block_out_channels):
        raise ValueError(
            f"{len(config.block_out_channels)} blocks needed (the VAE's upsampling), got {channels}"
        )
    return Decoder(
        in_channels=config.latent_channels,
        out_channels=config.out_channels,
        up_block_types=("UpDecoderBlock2D",) * len(channels),
        block_out_channels=channels,
        layers_per_block=layers,
        norm_num_groups=config.norm_num_groups,
        act_fn=config.act_fn,
        mid_block_add_attention=config.mid_block_add_attention,
    )


def world_frames(rng: np.random.Generator, size: int, count: int) -> torch.Tensor:
    """``count`` single world frames (any shape, colour, motion), pixels in [-1, 1]: (count, 3, size, size)."""
    frames = []
    for _ in range(count):
        video = render(sample_scene(rng, size, FRAMES, held_out=None), size, FRAMES)
        frames.append(video[rng.integers(FRAMES)])
    return to_tensor(np.stack(frames))


def latents_of(pipe: VideoGenPipeline, pixels: torch.Tensor) -> torch.Tensor:
    """The decoder's input for these pixels: the posterior mode, through ``post_quant_conv`` (B, C, h, w)."""
    vae = pipe.vae
    return vae.post_quant_conv(vae.encode(pixels).latent_dist.mode())


def train(
    pipe: VideoGenPipeline, decoder: Decoder, size: int, steps: int, batch: int, lr: float, seed: int
) -> dict[str, float]:
    """Train ``decoder`` in place on ``size`` x ``size`` frames; returns its first and last loss and seconds per
    step."""
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(decoder.parameters(), lr=lr)
    started, losses = time.perf_counter(), []
    decoder.train()
    for step in range(steps):
        pixels = world_frames(rng, size, batch)
        with torch.no_grad():
            latents = latents_of(pipe, pixels)
        decoded = decoder(latents)
        loss = F.l1_loss(decoded, pixels) + F.mse_loss(decoded, pixels) + 2.0 * edge_loss(decoded, pixels)
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / WARMUP_STEPS)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if (step + 1) % 50 == 0:
            print(f"  step {step + 1}/{steps} loss {losses[-1]:.4f}", file=sys.stderr, flush=True)
    decoder.eval()
    seconds = (time.perf_counter() - started) / max(1, steps)
    return {"first_loss": losses[0], "last_loss": losses[-1], "seconds_per_step": seconds}


@dataclass(frozen=True)
class ScoredClip:
    truth: np.ndarray  # uint8 (F, H, W, 3), the render
    caption: str
    latents: torch.Tensor  # the decoder's input for each frame (``latents_of``), (F, C, h, w)


@torch.no_grad()
def square_clips(pipe: VideoGenPipeline, size: int, count: int, seed: int) -> list[ScoredClip]:
    """``count`` rendered clips of squares with their captions and latents (encoded once, scored by each decoder)."""
    rng = np.random.default_rng(seed)
    squares = [combo for combo in combinations(None) if combo[1] == "square"]
    clips = []
    for _ in range(count):
        scene = sample_scene(rng, size, FRAMES, combo=squares[rng.integers(len(squares))])
        truth = render(scene, size, FRAMES)
        clips.append(ScoredClip(truth, scene.caption, latents_of(pipe, to_tensor(truth))))
    return clips


@torch.no_grad()
def score(decoder: nn.Module | None, clips: list[ScoredClip]) -> dict[str, list[float]]:
    """Every clip's measures for ``decoder`` on the clip's latents, frame by frame; ``None`` scores the renders
    themselves (the instrument's own reading of ground truth, no PSNR)."""
    out: dict[str, list[float]] = {key: [] for key in MEASURES}
    for clip in clips:
        video, caption = clip.truth, clip.caption
        if decoder is not None:
            video = to_uint8(decoder(clip.latents))
            out["psnr"].append(psnr(video, clip.truth))
        quality = shape_quality(video, caption)
        for key in ("square_fill", "edge_width", "interior_error"):
            value = getattr(quality, key)
            if value is not None:
                out[key].append(float(value))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="demo", help="model folder, 'demo' or a preset (its VAE is used)")
    p.add_argument("--variants", nargs="+", default=["16,32,32x1", "32,64,64x2"], help="CHANNELS,..xLAYERS")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clips", type=int, default=48, help="square clips scored")
    p.add_argument("--seed", type=int, default=0, help="the scored clips' seed (training frames: seed + 1)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("eval/decoder_capacity.json"))
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    variants = [(text, *parse_variant(text)) for text in args.variants]  # fail before loading anything
    pipe = load_pipeline(args.model)
    pipe.vae.requires_grad_(False).eval()
    size = pipe.generation_defaults()["height"]
    clips = square_clips(pipe, size, args.clips, args.seed)

    def parameters(module: nn.Module) -> int:
        return sum(q.numel() for q in module.parameters())

    own = pipe.vae.decoder
    rows = [
        {"decoder": "ground truth (the render)", "parameters": 0, "clips": score(None, clips)},
        {
            "decoder": "the model's own image decoder",
            "parameters": parameters(own),
            "clips": score(own, clips),
        },
    ]
    for text, channels, layers in variants:
        torch.manual_seed(args.seed)
        decoder = build_decoder(pipe, channels, layers)
        print(f"{text}: training {args.steps} steps", file=sys.stderr, flush=True)
        trained = train(pipe, decoder, size, args.steps, args.batch_size, args.lr, args.seed + 1)
        name = f"{text}, {args.steps} steps from scratch"
        rows.append(
            {
                "decoder": name,
                "parameters": parameters(decoder),
                **trained,
                "clips": score(decoder, clips),
            }
        )

    print(f"\n{args.clips} square clips, model {args.model}, {args.steps} steps at batch {args.batch_size}")
    print("| decoder | parameters | s/step | " + " | ".join(MEASURES) + " |")
    print("|---|---|---|" + "---|" * len(MEASURES))
    for row in rows:
        means = [f"{np.mean(v):.3f}" if (v := row["clips"][key]) else "-" for key in MEASURES]
        seconds = f"{row['seconds_per_step']:.2f}" if "seconds_per_step" in row else "-"
        print(f"| {row['decoder']} | {row['parameters']:,} | {seconds} | " + " | ".join(means) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    args.out.write_text(json.dumps({"settings": settings, "rows": rows}, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
