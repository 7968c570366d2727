"""Create the bucket the service stores videos in, once the S3 server answers: compose's one-shot ``bucket``
service runs it before the API and the workers start. It reads the service's own settings (``VIDEOGEN_S3_*``) and
goes through ``core.storage.S3Storage``, so it makes exactly the bucket the service will use. Exit 0 when the
bucket exists (created now or before), 1 when the server did not answer within ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from core.errors import StorageError
from core.logging import configure_logging
from core.settings import get_settings
from core.storage import S3Storage

logger = logging.getLogger("videogen.init_bucket")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the server")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between attempts")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    if settings.storage != "s3":
        logger.info("VIDEOGEN_STORAGE=%s: no bucket to create", settings.storage)
        return 0
    storage = S3Storage(settings)
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            storage.ping()  # creates the bucket when it is missing
        except StorageError as exc:
            if time.monotonic() >= deadline:
                logger.error("bucket %s not ready after %.0fs: %s", settings.s3_bucket, args.timeout, exc)
                return 1
            logger.info("waiting for S3 at %s: %s", settings.s3_endpoint_url, exc)
            time.sleep(args.interval)
            continue
        logger.info("bucket %s is ready at %s", settings.s3_bucket, settings.s3_endpoint_url)
        return 0


if __name__ == "__main__":
    sys.exit(main())
