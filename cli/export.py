"""``videogen export --model DIR --out ENGINE_DIR``: ONNX export (and TensorRT engines) for accelerated workers."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def shape_range(text: str) -> tuple[int, int, int]:
    """``MIN:OPT:MAX`` (or one number for all three) -> a (min, opt, max) tuple."""
    parts = text.split(":")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN:OPT:MAX") from None
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN:OPT:MAX")
    return values[0], values[1], values[2]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export the model to ONNX (and build TensorRT engines) for accelerated inference",
        description="Export each heavy module to ONNX with dynamic batch/frames/size, check it against torch, "
        "and optionally build TensorRT engines (GPU hosts with the 'gpu' extra). Shape ranges default to half "
        "to twice the model's default size.",
    )
    p.add_argument("--model", default="demo", help="model folder, 'demo' (default) or a preset ('tiny')")
    p.add_argument("--out", type=Path, required=True, help="engine directory to write")
    p.add_argument("--format", choices=("onnx", "tensorrt"), default="onnx")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument(
        "--fp16",
        action="store_true",
        help="fp16 TensorRT engines (VAE decoders stay fp32); default: the precision VIDEOGEN_DTYPE loads a worker"
        " in (auto: fp16 on CUDA)",
    )
    precision.add_argument("--bf16", action="store_true", help="bf16 TensorRT engines")
    p.add_argument("--modules", default=None, help="comma-separated subset (default: all)")
    p.add_argument("--batch", type=shape_range, default=None, help="prompts per request, MIN:OPT:MAX")
    p.add_argument("--frames", type=shape_range, default=None, help="latent frames, MIN:OPT:MAX")
    p.add_argument("--height", type=shape_range, default=None, help="output height in pixels, MIN:OPT:MAX")
    p.add_argument("--width", type=shape_range, default=None, help="output width in pixels, MIN:OPT:MAX")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (17-18 work with TensorRT; default 17)")
    p.add_argument("--no-verify", action="store_true", help="skip the ONNX Runtime vs torch parity check")
    p.add_argument("--force", action="store_true", help="re-export and rebuild even what is current")
    p.add_argument("--device", default="cuda", help="CUDA device for TensorRT builds (default: cuda)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.quiet:
        from core.settings import get_settings

        if get_settings().log_format == "json":  # e.g. run by the worker image's entrypoint
            from core.logging import configure_logging

            configure_logging("json", "INFO")
        else:
            logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from export.onnx_export import export_pipeline
    from export.specs import SPECS, ShapeRanges
    from export.tensorrt_build import Precision, build_engines
    from models.loading import load_pipeline, resolve_model

    if not args.quiet:
        from core.logging import adopt_library_loggers

        adopt_library_loggers()  # diffusers and transformers lines in the same format
    modules = None if args.modules is None else [m.strip() for m in args.modules.split(",") if m.strip()]
    unknown = sorted(set(modules or ()) - set(SPECS))
    if unknown:
        raise ValueError(f"unknown modules {unknown}; choose from {sorted(SPECS)}")
    if args.format == "onnx" and (args.fp16 or args.bf16):
        raise ValueError("--fp16/--bf16 apply to TensorRT engines: add --format tensorrt")
    if args.format == "tensorrt":
        # Fail before the (long) ONNX export where no engine can be built here.
        from export.engine import TensorRTEnvironment

        env = TensorRTEnvironment.probe(args.device)
        if env.unavailable:
            raise ValueError(f"cannot build TensorRT engines here: {env.unavailable}")

    pipe = load_pipeline(resolve_model(args.model))
    default = ShapeRanges.defaults(pipe)
    ranges = ShapeRanges(
        batch=args.batch or default.batch,
        frames=args.frames or default.frames,
        height=args.height or default.height,
        width=args.width or default.width,
    )
    manifest = export_pipeline(
        pipe, args.out, ranges, modules=modules, opset=args.opset, verify=not args.no_verify, force=args.force
    )
    if args.format == "tensorrt":
        precision = Precision.FP16 if args.fp16 else Precision.BF16 if args.bf16 else None
        if precision is None:  # the precision a worker with this environment loads in (VIDEOGEN_DTYPE)
            from core.settings import get_settings
            from models.loading import choose_dtype

            dtype = choose_dtype(get_settings().dtype, args.device).dtype
            precision = Precision.for_dtype(str(dtype).removeprefix("torch."))
        build_engines(args.out, precision, modules=modules, device=args.device, force=args.force)
    if not args.quiet:
        names = ", ".join(modules or manifest.modules)
        print(f"wrote {args.out} ({names})", file=sys.stderr)
    return 0
