"""``videogen serve``: the HTTP API (uvicorn). Settings come from the environment (see docs/api.md)."""

from __future__ import annotations

import argparse
import logging


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", default=None, help="bind address (default: VIDEOGEN_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: VIDEOGEN_PORT or 8000)")
    p.add_argument("--workers", type=int, default=1, help="API processes (they share nothing but Redis)")
    p.add_argument("--log-level", default="info")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from core.settings import get_settings
    from service.app import check_auth_settings

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    check_auth_settings(settings)  # fail here, with one clear line, rather than in every API process
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=True,
    )
    return 0
