"""Container health checks for Docker's HEALTHCHECK and Kubernetes exec probes; exit 0 healthy, 1 not, with one
line saying why:

    python healthcheck.py api      GET /healthz on this container's API port (VIDEOGEN_PORT) answers 200
    python healthcheck.py worker   a worker of this container has published its presence in Redis: its model is
                                   loaded and warm and its presence thread runs (``worker.heartbeat``)

A worker is named ``<hostname>.<pid>`` unless ``--name`` was given; ``--worker-prefix`` matches other names.
Settings come from the environment like the service's (``core.settings``).
"""

from __future__ import annotations

import argparse
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

from core.keys import Keys
from core.settings import Settings, get_settings

TIMEOUT_S = 3.0


def check_api(settings: Settings) -> tuple[bool, str]:
    url = f"http://127.0.0.1:{settings.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.status == 200, f"{url} answered {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url}: {exc}"


def check_worker(settings: Settings, prefix: str) -> tuple[bool, str]:
    import redis

    pattern = Keys(settings.key_prefix).worker(f"{prefix}*")
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
    )
    try:
        names = [key.decode() for key in client.scan_iter(match=pattern, count=1000)]
    except redis.RedisError as exc:
        return False, f"Redis: {exc}"
    finally:
        client.close()
    if not names:
        return False, f"no live worker matches {pattern} (still loading the model or preparing engines?)"
    return True, f"live: {', '.join(sorted(names))}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("role", choices=("api", "worker"))
    parser.add_argument("--worker-prefix", default=None, help="worker name prefix (default: '<hostname>.')")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.role == "api":
        healthy, why = check_api(settings)
    else:
        healthy, why = check_worker(settings, args.worker_prefix or f"{socket.gethostname()}.")
    sys.stdout.write(f"{'healthy' if healthy else 'unhealthy'}: {why}\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
