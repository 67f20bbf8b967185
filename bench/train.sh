#!/usr/bin/env bash
# npm run bench:train — trains the `tiny` preset with reclin and the same architecture in PyTorch (bench/train_torch.py)
# on the same tokens, CPU, fp32, 2 threads each, one after the other, and prints tokens/s for training and inference.
# Options (env): BATCH=8 SEQ=512 STEPS=6 WARMUP=2 THREADS=2. Never part of npm test or CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=${BATCH:-8} SEQ=${SEQ:-512} STEPS=${STEPS:-6} WARMUP=${WARMUP:-2} THREADS=${THREADS:-2}

VENV=.bench/venv
if ! "$VENV/bin/python" -c 'import torch, numpy' >/dev/null 2>&1; then
  echo "bench: installing torch and numpy into $VENV ..." >&2
  python3 -m venv "$VENV"
  if [ -d /opt/pypi/simple ]; then export PIP_INDEX_URL=file:///opt/pypi/simple; fi
  if [ -d /opt/wheels ]; then export PIP_FIND_LINKS=/opt/wheels; fi
  export PIP_RETRIES=0
  "$VENV/bin/python" -m pip install -q torch numpy 2>&1 | grep -v 'is ignored: it is neither' || true
fi
[ -f build/Release/reclin.node ] || npm run build:native >&2

# The same tokens for both sides: English-like bytes from a seeded generator (the model's vocab is bytes + specials).
TOK=.bench/train_tokens.bin
[ -f "$TOK" ] || "$VENV/bin/python" bench/train_tokens.py "$TOK"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: configs/models/tiny.json, batch ${BATCH}x${SEQ}, ${THREADS} threads, median of ${STEPS} steps after ${WARMUP} warm-up"
R=$(node --import tsx bench/train.ts --config=configs/models/tiny.json --tokens=$TOK --batch=$BATCH --seq=$SEQ --steps=$STEPS --warmup=$WARMUP --threads=$THREADS)
P=$("$VENV/bin/python" bench/train_torch.py --config configs/models/tiny.json --tokens $TOK --batch $BATCH --seq $SEQ --steps $STEPS --warmup $WARMUP --threads $THREADS)
node -e '
const r = JSON.parse(process.argv[1]), p = JSON.parse(process.argv[2]);
const f = (x) => x.toFixed(0).padStart(9);
console.log("                 reclin   PyTorch   ratio (reclin/PyTorch)");
console.log(`train tok/s   ${f(r.train_tokens_per_s)} ${f(p.train_tokens_per_s)}   ${(r.train_tokens_per_s / p.train_tokens_per_s).toFixed(2)}x   (target >= 1.5x)`);
console.log(`infer tok/s   ${f(r.infer_tokens_per_s)} ${f(p.infer_tokens_per_s)}   ${(r.infer_tokens_per_s / p.infer_tokens_per_s).toFixed(2)}x`);
console.log(`params        ${f(r.params)} ${f(p.params)}`);
console.log(`loss first/last: reclin ${r.losses[0].toFixed(3)} -> ${r.losses.at(-1).toFixed(3)}, PyTorch ${p.losses[0].toFixed(3)} -> ${p.losses.at(-1).toFixed(3)} (torch ${p.torch})`);
' "$R" "$P"
