"""``videogen serve``: the HTTP API (uvicorn). Settings come from the environment (see docs/api.md)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", default=None, help="bind address (default: VIDEOGEN_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: VIDEOGEN_PORT or 8000)")
    p.add_argument("--workers", type=int, default=1, help="API processes (they share nothing but Redis)")
    p.add_argument("--log-level", default=None, help="DEBUG, INFO, ... (default: VIDEOGEN_LOG_LEVEL or INFO)")
    p.add_argument(
        "--access-log",
        action="store_true",
        help="also write uvicorn's access log (the API's own request line already has its fields)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from core.logging import configure_logging, dict_config
    from core.settings import get_settings
    from service.app import check_auth_settings

    settings = get_settings()
    level = (args.log_level or settings.log_level).upper()
    configure_logging(settings.log_format, level)
    check_auth_settings(settings)  # fail here, with one clear line, rather than in every API process
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        workers=args.workers,
        log_level=level.lower(),
        # Every API process (uvicorn starts one per --workers) logs through core.logging's formatter, uvicorn's
        # own lines included; the request line comes from service.access_log.
        log_config=dict_config(settings.log_format, level),
        access_log=args.access_log,
        proxy_headers=True,
    )
    return 0
