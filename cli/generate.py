"""``videogen generate "PROMPT" -o out.mp4``: offline generation on this machine."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.errors import InvalidReferenceError

DEFAULT_MODEL = "demo"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("generate", help="generate a video from a prompt, offline")
    p.add_argument("prompt", help="what the video shows")
    p.add_argument("-o", "--output", type=Path, default=Path("out.mp4"), help="MP4 path (default: out.mp4)")
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help="model folder, 'demo' (default) or a preset ('tiny')"
    )
    p.add_argument("--negative-prompt", default=None)
    p.add_argument("--frames", type=int, default=None, help="frames in the output (default: the model's)")
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="denoising steps per stage (super-resolution runs the model's sr_steps_ratio of them)",
    )
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--upsample", type=int, default=None, choices=range(4), help="temporal doublings, 0..3")
    p.add_argument("--blend", action="store_true", help="plain latent blending instead of flow upsampling")
    p.add_argument(
        "--reference", type=Path, default=None, help="start from this image (image + text to video)"
    )
    p.add_argument("--save-reference", action="store_true", help="also write the reference image as PNG")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--backend",
        choices=("auto", "tensorrt", "onnxruntime", "torch"),
        default=None,
        help="where each module runs (default: VIDEOGEN_BACKEND, else auto: ONNX Runtime for the modules it runs"
        " faster on a CPU, exported once into VIDEOGEN_DATA_DIR/engines; torch for the rest)",
    )
    p.add_argument(
        "--engines", type=Path, default=None, help="a `videogen export` folder to use instead of the cache"
    )
    p.add_argument(
        "--dtype",
        choices=("auto", "float32", "float16", "bfloat16"),
        default=None,
        help="weights precision (default: VIDEOGEN_DTYPE, else auto: float16 on CUDA, float32 on CPU)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def load_reference(path: Path):  # -> PIL.Image.Image
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise InvalidReferenceError(f"cannot read reference image {path}: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    if not args.prompt.strip():
        raise ValueError("prompt must be a non-empty string")
    reference = load_reference(args.reference) if args.reference is not None else None

    from core.settings import get_settings

    settings = get_settings()
    if not args.quiet:  # the backend choices and a first export are worth a line each
        logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
        logging.getLogger("export.cache").setLevel(logging.INFO)

    from export import prewarm  # torch-free

    backend = args.backend or settings.backend
    engine_dir = args.engines if args.engines is not None else settings.engine_dir
    if engine_dir is None and args.device == "cpu" and (args.dtype or settings.dtype) in ("auto", "float32"):
        # The engine cache's ONNX Runtime sessions open on the other core while torch and diffusers import
        # (~1 s of a cold run); the backend choice below still checks everything and opens what is not ready.
        prewarm.start(settings.data_dir, args.model, backend)

    from core.media import png_bytes, write_mp4
    from models.progress import StageProgress
    from worker.runtime import load_model

    pipe, choices = load_model(
        args.model,
        device=args.device,
        dtype=args.dtype or settings.dtype,
        backend=backend,
        engine_dir=engine_dir,
        data_dir=settings.data_dir,
        show_progress=not args.quiet,
    )
    prewarm.discard()  # sessions opened for modules that ended up elsewhere
    if not args.quiet:
        from export.backends import stage_backends

        stages = ", ".join(f"{k} {v}" for k, v in stage_backends(choices).items())
        print(f"backends: {stages}", file=sys.stderr)
    defaults = pipe.generation_defaults()
    kwargs = {
        "num_frames": args.frames,
        "height": args.height,
        "width": args.width,
        "num_inference_steps": args.steps,
        "guidance_scale": args.guidance,
        "temporal_upsampling": args.upsample,
    }
    kwargs = {k: (defaults[k] if v is None else v) for k, v in kwargs.items()}
    with StageProgress(disable=args.quiet) as progress:
        out = pipe(
            args.prompt,
            negative_prompt=args.negative_prompt,
            seed=args.seed,
            reference_image=reference,
            temporal_upsampling_mode="blend" if args.blend else "flow",
            callback=progress,
            **kwargs,
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(out.frames[0], args.output, fps=args.fps)
    if args.save_reference:
        args.output.with_suffix(".reference.png").write_bytes(png_bytes(out.reference_images[0]))
    if not args.quiet:
        f, h, w, _ = out.frames[0].shape
        print(f"wrote {args.output} ({f} frames, {w}x{h}, {args.fps:g} fps)", file=sys.stderr)
    return 0
