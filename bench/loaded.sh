#!/usr/bin/env bash
# npm run bench:loaded — speed beside busy processes. Trains the `tiny` preset (batch 4x128, the shape of a default
# `reclin run`) with reclin and with PyTorch (bench/train_torch.py), first on the quiet machine, then beside BUSY
# processes that spin on the CPU (`yes > /dev/null`), and prints each side's slowdown (quiet tok/s / loaded tok/s).
# reclin runs with its default thread policy (the team follows the free cores, native/threads.h) and, for
# comparison, with a fixed team of THREADS (the policy before it). PyTorch runs with THREADS threads.
# Options (env): BUSY=8 BATCH=4 SEQ=128 STEPS=5 WARMUP=1 THREADS=$(nproc). Takes 1-3 minutes. Never part of npm test.
# Note: the load average needs a few seconds to see the busy processes; LOAD_WAIT (default 20 s) waits for it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUSY=${BUSY:-8} BATCH=${BATCH:-4} SEQ=${SEQ:-128} STEPS=${STEPS:-5} WARMUP=${WARMUP:-1} THREADS=${THREADS:-$(nproc)}
LOAD_WAIT=${LOAD_WAIT:-20}
PY=${RECLIN_PYTHON:-}
for p in "$PY" ./.venv/bin/python .bench/venv/bin/python; do
  if [ -n "$p" ] && "$p" -c 'import torch, numpy' >/dev/null 2>&1; then PY=$p; break; fi
done
"$PY" -c 'import torch' 2>/dev/null || { echo "bench:loaded needs a Python with torch and numpy (RECLIN_PYTHON, ./.venv, or run npm run bench:train once)" >&2; exit 1; }
[ -f build/Release/reclin.node ] || npm run build:native >&2

TOK=.bench/train_tokens.bin
mkdir -p .bench
[ -f "$TOK" ] || "$PY" bench/train_tokens.py "$TOK"

common="--batch=$BATCH --seq=$SEQ --steps=$STEPS --warmup=$WARMUP"
run_all() {  # prints: reclin-auto reclin-fixed torch (train tok/s each)
  local a f p
  a=$(node --import tsx bench/train.ts --config=configs/models/tiny.json --tokens=$TOK $common --threads=auto)
  f=$(node --import tsx bench/train.ts --config=configs/models/tiny.json --tokens=$TOK $common --threads=$THREADS)
  p=$("$PY" bench/train_torch.py --config configs/models/tiny.json --tokens $TOK --batch $BATCH --seq $SEQ --steps $STEPS --warmup $WARMUP --threads $THREADS)
  node -e 'for (const a of process.argv.slice(1)) process.stdout.write(JSON.parse(a).train_tokens_per_s.toFixed(1) + " ")' "$a" "$f" "$p"
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tiny preset, batch ${BATCH}x${SEQ}, median of ${STEPS} steps; fixed teams and PyTorch use ${THREADS} threads"
read -r qa qf qp <<<"$(run_all)"
echo "quiet:  reclin (follows load) $qa tok/s, reclin (fixed $THREADS) $qf tok/s, PyTorch $qp tok/s; load $(cut -d' ' -f1 /proc/loadavg)"
for _ in $(seq "$BUSY"); do yes > /dev/null & pids+=($!); done
sleep "$LOAD_WAIT"
read -r la lf lp <<<"$(run_all)"
echo "loaded: reclin (follows load) $la tok/s, reclin (fixed $THREADS) $lf tok/s, PyTorch $lp tok/s; $BUSY busy processes, load $(cut -d' ' -f1 /proc/loadavg)"
cleanup
node -e '
const [qa, qf, qp, la, lf, lp] = process.argv.slice(1).map(Number);
const s = (q, l) => (q / l).toFixed(2) + "x";
console.log(`slowdown (quiet/loaded): reclin follows load ${s(qa, la)}, reclin fixed team ${s(qf, lf)}, PyTorch ${s(qp, lp)}`);
console.log(`loaded speed vs PyTorch loaded: reclin follows load ${(la / lp).toFixed(2)}x, fixed team ${(lf / lp).toFixed(2)}x`);
' "$qa" "$qf" "$qp" "$la" "$lf" "$lp"
