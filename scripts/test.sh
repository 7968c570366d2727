#!/usr/bin/env bash
# Set up (idempotent), make sure Redis is up, lint, and run the whole test suite. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev

if ! .venv/bin/python -c "import redis; redis.Redis(port=6379, socket_connect_timeout=1).ping()" 2>/dev/null; then
  echo "starting redis-server on 127.0.0.1:6379" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 50); do
    .venv/bin/python -c "import redis; redis.Redis(port=6379).ping()" 2>/dev/null && break
    sleep 0.1
  done
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest "$@"
