#!/usr/bin/env bash
# One prepared run on the GPU machine (see ../shared/device/README.md): the CUDA binary must already be
# built here (npm run build:cuda -- --arch=90) and carried with node_modules, dist and build/.
# Runs every test/gpu test with the CUDA binary and prints a short table last.
set -uo pipefail
cd "$(dirname "$0")/.."
export RECLIN_ADDON="$PWD/build/Release/reclin.node:$PWD/build-cuda/Release/reclin.node"
export RECLIN_BACKEND=cuda
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader | tee "$out/gpu.txt"
node -e "const r=require('./dist'); const a=r.loadAddon(); console.log('addon:', a.path, '|', a.reason)"
status=0
for f in test/gpu/*.test.ts; do
  node --import tsx --test --test-reporter=spec "$f" 2>&1 | tee -a "$out/gpu-tests.log" || status=1
done
echo
echo "== summary =="
grep -E '^(✔|✖)' "$out/gpu-tests.log" | sed 's/ (.*ms)$//'
exit $status
