#!/bin/sh
# Entrypoint of the worker image: prepare the accelerated engines this worker will use, then become
# `videogen worker` (extra arguments go to it, e.g. --log-level debug).
#
# Engines are exported (ONNX) and built (TensorRT) on the first start and kept on the engine volume
# (VIDEOGEN_ENGINE_DIR); later starts find them current (same weights, GPU model, TensorRT version and precision)
# and skip the work. Workers sharing the volume take turns through a lock file.
#
#   WORKER_ENGINES=auto       (default) TensorRT engines where TensorRT and a GPU are present, else ONNX files
#                             (on a CPU under VIDEOGEN_BACKEND=auto, the default: only the modules that backend
#                             runs on ONNX Runtime there, export.cache.CPU_ONNXRUNTIME_MODULES); nothing when
#                             VIDEOGEN_BACKEND=torch or VIDEOGEN_ENGINE_DIR is empty
#   WORKER_ENGINES=tensorrt   that format; a failure stops the container
#   WORKER_ENGINES=onnx       that format; a failure stops the container
#   WORKER_ENGINES=off        prepare nothing; the worker uses what the engine folder holds
set -eu

# Lines in the worker's format: VIDEOGEN_LOG_FORMAT=json (the images' default) gives one JSON object per line.
log_at() {
  level=$1
  shift
  if [ "${VIDEOGEN_LOG_FORMAT:-text}" = json ]; then
    message=$(printf '%s' "$*" | sed 's/\\/\\\\/g; s/"/\\"/g')
    printf '{"time": "%s", "level": "%s", "logger": "worker-entrypoint", "message": "%s"}\n' \
      "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$level" "$message" >&2
  else
    printf '%s %s worker-entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$level" "$*" >&2
  fi
}
log() { log_at INFO "$@"; }

mode="${WORKER_ENGINES:-auto}"
backend="${VIDEOGEN_BACKEND:-auto}"  # the worker's own default (core/settings.py)
engine_dir="${VIDEOGEN_ENGINE_DIR:-}"
model="${VIDEOGEN_MODEL:-demo}"

case "$mode" in
  auto | tensorrt | onnx | off) ;;
  *) log_at ERROR "WORKER_ENGINES=$mode: expected auto, tensorrt, onnx or off"; exit 2 ;;
esac

if [ "$mode" = off ] || [ -z "$engine_dir" ] || { [ "$mode" = auto ] && [ "$backend" = torch ]; }; then
  log "no engines to prepare (WORKER_ENGINES=$mode, VIDEOGEN_BACKEND=$backend, VIDEOGEN_ENGINE_DIR=$engine_dir)"
else
  format="$mode"
  modules=""  # comma-separated, no spaces; empty: every module
  if [ "$format" = auto ]; then
    format=onnx
    if [ "$backend" != onnxruntime ] \
      && python -c 'import tensorrt, torch; raise SystemExit(not torch.cuda.is_available())' 2>/dev/null; then
      format=tensorrt
    elif [ "$backend" = auto ]; then
      # No TensorRT here. On a CPU, `auto` keeps on torch the modules ONNX Runtime runs slower: export the rest.
      modules=$(python -c '
import os
from export.cache import CPU_ONNXRUNTIME_MODULES
from export.specs import SPECS
from worker.runtime import resolve_device
if resolve_device(os.environ.get("VIDEOGEN_DEVICE", "auto")) == "cpu":
    print(",".join(m for m in SPECS if m in CPU_ONNXRUNTIME_MODULES))
' 2>/dev/null) || modules=""
    fi
  fi
  mkdir -p "$engine_dir"
  log "preparing $format engines of model $model in $engine_dir${modules:+ (modules $modules)} (built once, then reused)"
  started=$(date +%s)
  # ${modules:+...} unquoted on purpose: two words, --modules and the list (module names have no spaces).
  # shellcheck disable=SC2086
  if flock "$engine_dir/.prepare.lock" videogen export --model "$model" --out "$engine_dir" --format "$format" \
    ${modules:+--modules $modules}; then
    log "engines ready after $(($(date +%s) - started))s"
  elif [ "$mode" = auto ]; then
    log_at WARNING "engine preparation failed; the worker falls back per module to what runs (its log names each choice)"
  else
    log_at ERROR "engine preparation failed (WORKER_ENGINES=$mode)"
    exit 1
  fi
fi

exec videogen worker "$@"
