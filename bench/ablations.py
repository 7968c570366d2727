"""The paper's ablations on the synthetic world (models/eval/ablations.py), written as JSON and Markdown.

    .venv/bin/python bench/ablations.py --model demo --seeds 0,1,2 --out eval/ablations \
        [--no-reference-model weights/demo-noref]

Runs (1) flow vs blend upsampling and video vs image decoder on the same generated latents of the world prompt
set, (2) frame interpolation against ground truth on encoded world clips, (3) with vs without the reference
image when a model trained without it is given (else reported as pending).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

logger = logging.getLogger("bench.ablations")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="demo", help="model folder, 'demo' or a preset")
    p.add_argument("--no-reference-model", default=None, help="the same model trained without the reference")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--seen", type=int, default=12, help="seen combinations in the world prompt set")
    p.add_argument("--clips", type=int, default=24, help="ground-truth clips for the interpolation ablation")
    p.add_argument("--steps", type=int, default=None, help="denoising steps per stage (default: the model's)")
    p.add_argument("--skip", nargs="*", default=[], choices=("variants", "interpolation", "reference"))
    p.add_argument("--out", type=Path, default=Path("eval/ablations"))
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a busy machine)")
    p.add_argument(
        "--decoder",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="variants: also decode with this VideoDecoder folder (e.g. a training run's decoder/model), repeatable",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    import torch

    from models.eval import ablations
    from models.eval.generation import GenerationSettings
    from models.eval.prompts import world_prompts
    from models.eval.seeds import parse_seeds
    from models.loading import load_pipeline

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    seeds = parse_seeds(args.seeds)
    prompts = world_prompts(seen=args.seen)
    settings = GenerationSettings(num_inference_steps=args.steps)
    pipe = load_pipeline(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"model": args.model, "seeds": seeds, "prompts": len(prompts)}
    sections = [f"Model `{args.model}`, {len(prompts)} world prompts x seeds {seeds}.\n"]

    def progress(name: str):  # -> Callable[[int, int], None]
        started = time.perf_counter()

        def report(done: int, total: int) -> None:
            elapsed = time.perf_counter() - started
            logger.info(
                "%s %d/%d (%.0f s, ~%.0f s left)", name, done, total, elapsed, elapsed / done * (total - done)
            )

        return report

    if "variants" not in args.skip:
        from models.video_decoder import VideoDecoder

        decoders = {}
        for spec in args.decoder:
            name, sep, folder = spec.partition("=")
            if not sep:
                raise SystemExit(f"--decoder takes NAME=DIR, got {spec!r}")
            decoders[f"decoder {name}"] = VideoDecoder.from_pretrained(folder).eval()
        variants = ablations.variant_ablation(
            pipe, prompts, seeds, settings, on_sample=progress("variants"), decoders=decoders
        )
        results["variants"] = variants
        sections += [
            "## Temporal upsampling and decoder on generated videos\n",
            ablations.variant_markdown(variants),
        ]
    if "interpolation" not in args.skip:
        interp = ablations.interpolation_ablation(
            pipe, clips=args.clips, settings=settings, on_clip=progress("clips")
        )
        results["interpolation"] = interp
        sections += [
            "## Frame interpolation against ground truth\n",
            ablations.interpolation_markdown(interp),
        ]
    if "reference" not in args.skip:
        without = None
        if ablations.model_exists(args.no_reference_model):
            without = load_pipeline(args.no_reference_model)
        elif args.no_reference_model is not None:
            logger.warning("no model at %s: the reference ablation stays pending", args.no_reference_model)
        ref = ablations.reference_ablation(pipe, without, prompts, seeds, settings)
        results["reference"] = ref
        sections += ["## With vs without the reference image\n", ablations.reference_markdown(ref)]
    (args.out / "ablations.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "ablations.md").write_text("\n".join(sections))
    print(f"wrote {args.out / 'ablations.md'} and {args.out / 'ablations.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
