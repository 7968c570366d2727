"""``videogen train RECIPE``: train one network of a VideoGen model; ``videogen train assemble``: save the pipeline.

Recipes (in dependency order): vae, reference, base, sr, upsampler, decoder, consistency. Each reads the frozen
parts it needs from earlier recipes in ``--workdir`` and writes ``WORKDIR/RECIPE/{checkpoint.pt,loss.csv,samples/,
model/}``. Running the same command again resumes from the checkpoint. Data parallel on N GPUs:
``accelerate launch --num_processes N -m cli.main train base ...`` (docs/training.md, "Several GPUs", also
has the exact demo recipe). ``consistency`` is the exception: it fine-tunes the video decoder's temporal stages on
videos the run's model generates (``models.train.consistency``; one process, a few minutes), writes only
``WORKDIR/consistency/model`` and starts over when run again.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cli.options import given

# Training recipes (models.train.components.RECIPES, kept here so the CLI starts without torch): which network a
# run fits. Not the generation stages of core/stages.py (the "sr" recipe trains the super_resolution stage's UNet).
RECIPES = ("vae", "reference", "base", "sr", "upsampler", "decoder", "consistency")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a component of a model, or assemble trained components")
    p.add_argument(
        "recipe", choices=(*RECIPES, "assemble"), help="what to train (one network), or 'assemble'"
    )
    p.add_argument("--workdir", type=Path, required=True, help="run folder shared by the recipes")
    p.add_argument("--preset", default="demo", help="component sizes (models/presets.py), default demo")
    p.add_argument("--init", type=Path, default=None, help="start from this saved pipeline folder")
    p.add_argument("--data", default="world", help="'world' (rendered in memory) or a folder of videos")
    p.add_argument("--pool-size", type=int, default=0, help="world: render this many scenes once, reuse")
    p.add_argument("--steps", type=int, default=None, help="default 1000 (consistency: 300)")
    p.add_argument("--batch-size", type=int, default=None, help="default 32 (consistency: 4)")
    p.add_argument("--lr", type=float, default=None, help="default 1e-3")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--grad-accumulation", type=int, default=1)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument(
        "--sample-every", type=int, default=0, help="write sample sheets every N steps (0: at end)"
    )
    p.add_argument("--text-dropout", type=float, default=0.1)
    p.add_argument("--snr-gamma", type=float, default=5.0)
    p.add_argument("--max-noise-level", type=int, default=250, help="sr: augmentation timesteps 0..N")
    p.add_argument("--pixel-weight", type=float, default=0.0, help="upsampler: decoded-pixel loss weight")
    p.add_argument("--decoder-all", action="store_true", help="decoder: train all layers, not only temporal")
    p.add_argument(
        "--decoder-mixers",
        type=int,
        default=None,
        help="decoder, consistency: train the first N temporal stages, deepest first (decoder default: all;"
        " consistency: 2; the rest stay identity)",
    )
    p.add_argument(
        "--decoder-interpolated",
        type=float,
        default=0.0,
        help="decoder: share of clips decoded from latents the upsampler rebuilt from every 4th frame",
    )
    p.add_argument(
        "--decoder-latent-noise", type=float, default=0.0, help="decoder: max std of per-frame latent noise"
    )
    p.add_argument(
        "--decoder-regenerated",
        type=float,
        default=0.0,
        help="decoder: share of clips whose keyframes the frozen super-resolution stage remakes from their own"
        " low-resolution latents (then rebuilt by the upsampler), as generation makes them",
    )
    p.add_argument(
        "--textured",
        type=float,
        default=0.0,
        help="world data: share of clips with textured backgrounds and shapes (captions do not name them)",
    )
    # consistency options default to None: models.train.consistency.ConsistencyConfig holds the defaults
    p.add_argument(
        "--consistency-weight",
        type=float,
        default=None,
        help="consistency: weight of the flow-warped term (each decoded frame against the next; default 6)",
    )
    p.add_argument(
        "--edge-weight",
        type=float,
        default=None,
        help="decoder: weight of a gradient-difference term against the clean clip (default 0: none);"
        " consistency: the same against the anchor, keeping edges as sharp as it draws them (default 1)",
    )
    p.add_argument(
        "--edge-threshold",
        type=float,
        default=None,
        help="consistency: count the warped term only away from the anchor's edges (neighbours differing by"
        " more than this many levels; default: everywhere)",
    )
    p.add_argument(
        "--videos", type=int, default=None, help="consistency: generated training videos (default 64)"
    )
    p.add_argument(
        "--first-seed",
        type=int,
        default=None,
        help="consistency: seed of the first generated training video (default 1000)",
    )
    p.add_argument("--sr-crop", type=int, default=0, help="sr: train on random NxN latent windows (0: whole)")
    p.add_argument(
        "--no-reference",
        action="store_true",
        help="base/sr/assemble: no reference-image conditioning (the paper's ablation; zeros in its place)",
    )
    p.add_argument("--out", type=Path, default=None, help="assemble: pipeline folder to write")
    p.add_argument("--guidance", type=float, default=None, help="assemble: default guidance scale")
    p.add_argument("--inference-steps", type=int, default=None, help="assemble: default steps per stage")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from models.train.components import assemble, load_components
    from models.train.data import open_source
    from models.train.recipes import RecipeOptions, build_recipe
    from models.train.trainer import TrainConfig, Trainer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.recipe == "assemble":
        if args.out is None:
            raise ValueError("assemble needs --out FOLDER")
        overrides = {}
        if args.guidance is not None:
            overrides["default_guidance_scale"] = args.guidance
        if args.inference_steps is not None:
            overrides["default_num_inference_steps"] = args.inference_steps
        if args.no_reference:
            overrides["reference_conditioning"] = False
        assemble(args.preset, args.workdir, args.out, seed=args.seed, init=args.init, **overrides)
        print(f"wrote {args.out}", file=sys.stderr)
        return 0

    if args.recipe == "consistency":
        return run_consistency(args)
    components, config = load_components(args.preset, args.workdir, seed=args.seed, init=args.init)
    options = RecipeOptions(
        text_dropout=args.text_dropout,
        snr_gamma=args.snr_gamma,
        max_noise_level=args.max_noise_level,
        pixel_weight=args.pixel_weight,
        decoder_all=args.decoder_all,
        decoder_mixers=args.decoder_mixers,
        decoder_interpolated=args.decoder_interpolated,
        decoder_latent_noise=args.decoder_latent_noise,
        decoder_regenerated=args.decoder_regenerated,
        **given(decoder_edge_weight=args.edge_weight),
        sr_crop=args.sr_crop,
        reference=not args.no_reference,
    )
    torch.manual_seed(args.seed)
    recipe = build_recipe(args.recipe, components, config, options)
    source = open_source(
        args.data, recipe.clip, seed=args.seed, pool_size=args.pool_size, textured=args.textured
    )
    train_config = TrainConfig(
        **given(steps=args.steps, batch_size=args.batch_size, lr=args.lr),
        warmup_steps=args.warmup,
        grad_accumulation=args.grad_accumulation,
        ema_decay=args.ema_decay,
        mixed_precision=args.mixed_precision,
        log_every=args.log_every,
        checkpoint_every=args.checkpoint_every,
        sample_every=args.sample_every,
        seed=args.seed,
    )
    trainer = Trainer(recipe, source, args.workdir / args.recipe, train_config)
    trainer.resume()
    result = trainer.train()
    if not trainer.accelerator.is_main_process:
        return 0
    print(
        f"{args.recipe}: {result.step} steps, last loss {result.last_loss:.5f}, {result.seconds:.0f}s;"
        f" model in {result.model_dir}",
        file=sys.stderr,
    )
    return 0


def run_consistency(args: argparse.Namespace) -> int:
    from models.train.consistency import ConsistencyConfig, fine_tune

    config = ConsistencyConfig(
        **given(
            consistency_weight=args.consistency_weight,
            edge_weight=args.edge_weight,
            edge_threshold=args.edge_threshold,
            videos=args.videos,
            first_seed=args.first_seed,
            steps=args.steps,
            batch_size=args.batch_size,
            mixers=args.decoder_mixers,
            lr=args.lr,
            seed=args.seed,
        )
    )
    out = fine_tune(args.workdir, config, preset=args.preset, init=args.init)
    print(f"consistency: {config.steps} steps; model in {out}", file=sys.stderr)
    return 0
