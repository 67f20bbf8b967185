#!/usr/bin/env bash
# npm run bench:cpu — reclin against PyTorch on this machine's CPU, fp32, 2 threads, one table.
# Sets up PyTorch in .bench/venv (from the local wheelhouse when there is one), builds the addon if it is missing or
# older than native/, then runs bench/cpu.ts, which times both sides. Never part of npm test or CI.
# Extra arguments go to bench/cpu.ts: --only=kda,adamw,gemm,moe,mla  --quick  --threads=N  --kda-shapes='B,T,H,K,V;...'
#   --moe-shapes='B,T,d,I,E,k,shared;...'  --mla-shapes='B,T,d,H,rank,nope,rope,v;...'
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.bench/venv
if ! "$VENV/bin/python" -c 'import torch, numpy, transformers' >/dev/null 2>&1; then
  echo "bench: installing torch, numpy and transformers into $VENV ..." >&2
  python3 -m venv "$VENV"
  # This machine has no general network: use the local index and wheelhouse when present, and never retry.
  if [ -d /opt/pypi/simple ]; then export PIP_INDEX_URL=file:///opt/pypi/simple; fi
  if [ -d /opt/wheels ]; then export PIP_FIND_LINKS=/opt/wheels; fi
  export PIP_RETRIES=0
  "$VENV/bin/python" -m pip install -q torch numpy transformers 2>&1 | grep -v 'is ignored: it is neither' || true
  "$VENV/bin/python" -c 'import torch, numpy, transformers' || { echo "bench: could not install torch and transformers into $VENV" >&2; exit 1; }
fi

ADDON=build/Release/reclin.node
if [ ! -f "$ADDON" ] || [ -n "$(find native -newer "$ADDON" -type f 2>/dev/null | head -1)" ]; then
  echo "bench: building the native addon ..." >&2
  npm run build:native >&2
fi

# On a machine busier than its core count, OpenMP threads that spin at barriers wait for a descheduled partner for
# whole time slices: PyTorch (many small parallel regions per KDA step) then runs 10-100x slower than its work. So on
# a loaded machine both sides sleep at barriers instead (printed in the header); set OMP_WAIT_POLICY to override.
if [ -z "${OMP_WAIT_POLICY:-}" ] && awk -v n="$(nproc)" '{ exit !($1 > n) }' /proc/loadavg; then
  export OMP_WAIT_POLICY=PASSIVE
fi

export RECLIN_BENCH_PYTHON="$PWD/$VENV/bin/python"
exec node --import tsx bench/cpu.ts "$@"
