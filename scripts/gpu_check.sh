#!/usr/bin/env bash
# GPU proof in one run that fits in 8 minutes on one GPU: the tests in tests/gpu, bench/backends.py and
# bench/peers.py at the paper's scale (base preset, random weights, 16 frames, 256x256) in float32, float16 and
# float16 + torch.compile, with videogen's per-stage peak memory; then one table. Needs no network: torch with CUDA
# and the project's venv (.venv, or PYTHON=...) are enough.
#
#   scripts/gpu_check.sh [--dry-run] [OUT_DIR]
#   VIDEOGEN_GPU_CHECK_DRY=1 scripts/gpu_check.sh    # the same steps on the CPU with the tiny preset
#
# Every step runs under its own time budget (timeout); one that fails or runs out is marked in the table and the
# others still report. Logs and JSON land in OUT_DIR (default: a fresh temporary folder). Exit status 0 when every
# step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DRY=${VIDEOGEN_GPU_CHECK_DRY:-0}
OUT=""
for arg in "$@"; do
  case $arg in
    --dry-run) DRY=1 ;;
    -h | --help) sed -n 2,12p "$0"; exit 0 ;;
    *) OUT=$arg ;;
  esac
done
OUT=${OUT:-$(mktemp -d -t gpu_check.XXXXXX)}
mkdir -p "$OUT"

if [ "$DRY" = 1 ]; then
  # Seconds, not minutes: tiny preset, 4 frames, 1 step, one timed round, compile traced only (dynamo's eager
  # backend), all precisions in one process, one peer (tests/unit/bench builds both).
  PEERS=text-to-video-sd
  DEVICE=cpu PRESET=tiny SCALE=tiny FRAMES=4 STEPS=1 VIDEO_STEPS=1 REPEATS=1 WARMUP=0 COMPILE_BACKEND=eager
  BUDGET_TESTS=120 BUDGET_BACKENDS=120 BUDGET_PEERS=240 BUDGET_COMPILE=0
  PEERS_PRECISIONS=fp32,fp16,fp16+compile EXTRA=(--threads 1)
else
  # 90 + 100 + 120 + 170 s = 8 minutes at most. Compiling is the slow part: its run times one peer only.
  DEVICE=cuda PRESET=base SCALE=base FRAMES=16 STEPS=10 VIDEO_STEPS=4 REPEATS=2 WARMUP=1 COMPILE_BACKEND=inductor
  BUDGET_TESTS=90 BUDGET_BACKENDS=100 BUDGET_PEERS=120 BUDGET_COMPILE=170
  PEERS_PRECISIONS=fp32,fp16 EXTRA=() PEERS=text-to-video-sd,animatediff
fi
export PYTHONUNBUFFERED=1

step() {  # step NAME BUDGET_S COMMAND...: run under a budget; NAME.log and NAME.rc in $OUT
  local name=$1 budget=$2
  shift 2
  echo "== $name (budget ${budget}s): $*" >&2
  timeout --kill-after=10 "$budget" "$@" >"$OUT/$name.log" 2>&1
  echo $? >"$OUT/$name.rc"
}

step tests "$BUDGET_TESTS" "$PY" -m pytest tests/gpu -q -p no:cacheprovider
step backends "$BUDGET_BACKENDS" "$PY" bench/backends.py --preset "$PRESET" --device "$DEVICE" \
  --backends torch,torch-fp16 --repeats "$REPEATS" --steps "$VIDEO_STEPS" --json "$OUT/backends.json" "${EXTRA[@]}"
step peers "$BUDGET_PEERS" "$PY" bench/peers.py --scales "$SCALE" --device "$DEVICE" --precisions "$PEERS_PRECISIONS" \
  --peers "$PEERS" --frames "$FRAMES" --steps "$STEPS" --repeats "$REPEATS" --warmup "$WARMUP" --stages --compile-backend "$COMPILE_BACKEND" \
  --json "$OUT/peers.json" "${EXTRA[@]}"
if [ "$BUDGET_COMPILE" -gt 0 ]; then
  step peers_compile "$BUDGET_COMPILE" "$PY" bench/peers.py --scales "$SCALE" --device "$DEVICE" \
    --precisions fp16+compile --peers text-to-video-sd --frames "$FRAMES" --steps "$STEPS" --repeats 1 --warmup "$WARMUP" \
    --stages --compile-backend "$COMPILE_BACKEND" --json "$OUT/peers_compile.json"
fi

GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
"$PY" - "$OUT" "$DRY" "${GPU:-no nvidia-smi}" <<'PYEOF'
import json, sys
from pathlib import Path

out, dry, gpu = Path(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]


def status(name):
    rc_file = out / f"{name}.rc"
    if not rc_file.exists():
        return "not run"
    rc = int(rc_file.read_text())
    return "ok" if rc == 0 else ("ran out of time" if rc in (124, 137) else f"failed (exit {rc})")


def load(name):
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


print(f"\n# GPU check{' (DRY RUN: CPU, tiny preset)' if dry else ''}: {gpu}; logs in {out}")
print("\n| step | status |\n|---|---|")
for name in ("tests", "backends", "peers", "peers_compile"):
    if (out / f"{name}.rc").exists():
        detail = ""
        if name == "tests":
            lines = [l for l in (out / "tests.log").read_text().splitlines() if l.strip()]
            detail = f": {lines[-1].strip('= ')}" if lines else ""
        print(f"| {name} | {status(name)}{detail} |")

backends = load("backends")
if backends:
    names = [k for k in backends if k not in ("preset", "device")]
    print(f"\n## bench/backends.py, preset {backends['preset']} on {backends['device']} (ms)\n")
    print("| module | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))
    for row in backends[names[0]]["seconds"]:
        print(f"| {row} | " + " | ".join(f"{1e3 * backends[n]['seconds'][row]:.1f}" for n in names) + " |")

results = [r for name in ("peers", "peers_compile") if (p := load(name)) for r in p["results"]]
if results:
    r0 = results[0]
    print(f"\n## bench/peers.py, scale {r0['scale']} ({r0['height']}x{r0['width']}), median s/video; peak MiB above"
          " the weights")
    peers = sorted({n for r in results for n in r["contenders"] if not n.startswith("videogen")})
    print("\n| precision | pipeline | s/video | peak MiB | weights MiB | " + " | ".join(f"x cheaper than {p}" for p in peers)
          + " |\n|---|---|---:|---:|---:|" + "---:|" * len(peers))
    for r in results:
        rows = r["contenders"]
        for name, c in rows.items():
            ratios = [f"{rows[p]['seconds'] / c['seconds']:.2f}x" if name.startswith("videogen") and p in rows
                      else "-" for p in peers]
            print(f"| {r['precision']} | {name} | {c['seconds']:.3f} | {c['peak_mib']:.0f} | {c['weights_mib']:.0f} | "
                  + " | ".join(ratios) + " |")
    staged = [r for r in results if r.get("stages")]
    if staged:
        print("\n## videogen per stage: s/video and peak MiB\n")
        print("| stage | " + " | ".join(r["precision"] for r in staged) + " |\n|---|" + "---:|" * len(staged))
        for stage in staged[0]["stages"]:
            cells = [f"{r['stages'][stage]['seconds']:.3f} s, {r['stages'][stage]['peak_mib']:.0f} MiB" for r in staged]
            print(f"| {stage} | " + " | ".join(cells) + " |")
failed = [n for n in ("tests", "backends", "peers", "peers_compile") if (out / f"{n}.rc").exists() and status(n) != "ok"]
print(f"\n{'all steps ok' if not failed else 'NOT OK: ' + ', '.join(failed)}")
sys.exit(1 if failed else 0)
PYEOF
