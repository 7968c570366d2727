"""``videogen worker``: load the model once and run video jobs from the queue (one process per GPU)."""

from __future__ import annotations

import argparse

from cli.options import given


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("worker", help="run a worker that generates queued videos")
    p.add_argument(
        "--model", default=None, help="'demo', a preset ('tiny') or a model folder (VIDEOGEN_MODEL)"
    )
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N (VIDEOGEN_DEVICE)")
    p.add_argument("--backend", default=None, choices=["auto", "tensorrt", "onnxruntime", "torch"])
    p.add_argument(
        "--priorities",
        default=None,
        help="priorities to serve, highest first: 'high,normal,low' (default) or"
        " e.g. 'high' for a fast lane (VIDEOGEN_WORKER_PRIORITIES)",
    )
    p.add_argument(
        "--torch-compile",
        action="store_true",
        default=None,
        help="torch.compile the modules left on torch; the warm-up pays it (VIDEOGEN_TORCH_COMPILE)",
    )
    p.add_argument("--name", default=None, help="worker name (default: host.pid)")
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p.add_argument("--log-level", default=None, help="DEBUG, INFO, ... (default: VIDEOGEN_LOG_LEVEL or INFO)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from core.logging import configure_logging
    from core.settings import Settings
    from worker.threads import configure_threads

    settings = Settings(
        **given(
            model=args.model,
            device=args.device,
            backend=args.backend,
            worker_priorities=args.priorities,
            torch_compile=args.torch_compile,
            log_level=args.log_level,
        )
    )
    configure_logging(settings.log_format, settings.log_level)
    configure_threads(settings.workers_per_host, settings.torch_threads)  # before torch runs anything
    from worker.main import run_worker

    return run_worker(settings, name=args.name, burst=args.burst)
