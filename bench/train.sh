#!/usr/bin/env bash
# npm run bench:train — two comparisons, CPU, fp32, the same threads each, one after the other, on the same tokens:
#   dense: the `tiny` preset with reclin against the same shapes written in plain PyTorch (bench/train_torch.py);
#   moe:   the `kimi-tiny` preset (MLA + MoE + KDA) with reclin against transformers' own KimiLinearForCausalLM
#          built from the same config.json (bench/train_hf.py; its KDA runs on transformers' torch fallbacks).
# Prints tokens/s for training and inference, both sides and the ratio, with the load average before each side.
# Options (env): CASES="dense moe" THREADS=2; dense: BATCH=8 SEQ=512 STEPS=6 WARMUP=2; moe: MOE_BATCH=2 MOE_SEQ=256
# MOE_STEPS=3 MOE_WARMUP=1 EXPERTS=grouped_mm (a comma list of transformers' experts implementations; the fastest
# is reported). transformers is taken from RECLIN_PYTHON or .venv when it has it. Never part of npm test or CI.
# On a GPU the dense comparison runs in scripts/gpu-check.sh instead (the same two programs with --device=cuda
# --precision=bf16: reclin through the Trainer's device path, PyTorch with flash-linear-attention's chunk_kda, bf16
# autocast and fused AdamW; bench/train_fla_check.py checks that fla call against the CPU KDA). This script is CPU/fp32.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=${BATCH:-8} SEQ=${SEQ:-512} STEPS=${STEPS:-6} WARMUP=${WARMUP:-2} THREADS=${THREADS:-2}
MOE_BATCH=${MOE_BATCH:-2} MOE_SEQ=${MOE_SEQ:-256} MOE_STEPS=${MOE_STEPS:-3} MOE_WARMUP=${MOE_WARMUP:-1} EXPERTS=${EXPERTS:-grouped_mm}
CASES=${CASES:-dense moe}

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
report() { # reclin-json peer-json peer-name target
node -e '
const [r, p, name, target] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2]), process.argv[3], process.argv[4]];
const f = (x) => x.toFixed(0).padStart(9);
console.log(`                 reclin ${name.padStart(9)}   ratio (reclin/${name})`);
console.log(`train tok/s   ${f(r.train_tokens_per_s)} ${f(p.train_tokens_per_s)}   ${(r.train_tokens_per_s / p.train_tokens_per_s).toFixed(2)}x   (target >= ${target}x)`);
console.log(`infer tok/s   ${f(r.infer_tokens_per_s)} ${f(p.infer_tokens_per_s)}   ${(r.infer_tokens_per_s / p.infer_tokens_per_s).toFixed(2)}x`);
console.log(`params        ${f(r.params)} ${f(p.params)}`);
console.log(`loss first/last: reclin ${r.losses[0].toFixed(3)} -> ${r.losses.at(-1).toFixed(3)}, ${name} ${p.losses[0].toFixed(3)} -> ${p.losses.at(-1).toFixed(3)} (torch ${p.torch}${p.transformers ? `, transformers ${p.transformers}, experts ${p.experts_implementation}: ${JSON.stringify(p.all)}` : ""})`);
if (p.failed && Object.keys(p.failed).length) console.log(`experts implementations that failed: ${JSON.stringify(p.failed)}`);
' "$1" "$2" "$3" "$4"
}
load() { echo "load $(cut -d' ' -f1-3 /proc/loadavg)"; }

if [[ " $CASES " == *" dense "* ]]; then
  echo; echo "== dense: configs/models/tiny.json, batch ${BATCH}x${SEQ}, ${THREADS} threads, median of ${STEPS} steps after ${WARMUP} warm-up"
  echo "reclin:  $(load)"
  R=$(node --import tsx bench/train.ts --config=configs/models/tiny.json --tokens=$TOK --batch=$BATCH --seq=$SEQ --steps=$STEPS --warmup=$WARMUP --threads=$THREADS)
  echo "PyTorch: $(load)"
  P=$("$VENV/bin/python" bench/train_torch.py --config configs/models/tiny.json --tokens $TOK --batch $BATCH --seq $SEQ --steps $STEPS --warmup $WARMUP --threads $THREADS)
  report "$R" "$P" PyTorch 1.5
fi

if [[ " $CASES " == *" moe "* ]]; then
  HF=""
  for py in "${RECLIN_PYTHON:-}" .venv/bin/python "$VENV/bin/python"; do
    if [ -n "$py" ] && [ -x "$py" ] && "$py" -c 'import transformers.models.kimi_linear' >/dev/null 2>&1; then HF=$py; break; fi
  done
  if [ -z "$HF" ]; then
    echo "bench: installing transformers into $VENV ..." >&2
    "$VENV/bin/python" -m pip install -q transformers 2>&1 | grep -v 'is ignored: it is neither' || true
    HF="$VENV/bin/python"
  fi
  echo; echo "== moe: configs/models/kimi-tiny.json (MLA + MoE + KDA), batch ${MOE_BATCH}x${MOE_SEQ}, ${THREADS} threads, median of ${MOE_STEPS} steps after ${MOE_WARMUP} warm-up"
  echo "reclin:       $(load)"
  R=$(node --import tsx bench/train.ts --config=configs/models/kimi-tiny.json --tokens=$TOK --batch=$MOE_BATCH --seq=$MOE_SEQ --steps=$MOE_STEPS --warmup=$MOE_WARMUP --threads=$THREADS)
  echo "transformers: $(load)"
  P=$("$HF" bench/train_hf.py --config configs/models/kimi-tiny.json --tokens $TOK --batch $MOE_BATCH --seq $MOE_SEQ --steps $MOE_STEPS --warmup $MOE_WARMUP --threads $THREADS --experts $EXPERTS)
  report "$R" "$P" HF 2
  echo "after:        $(load)"
fi
