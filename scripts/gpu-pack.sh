#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for scripts/gpu-check.sh on the GPU machine: this machine's Node binary,
# the runtime node_modules (without the TypeScript compiler and type packages), and the
# flash-linear-attention wheels from the local wheelhouse. Build build-cuda/ and dist/ first.
set -euo pipefail
cd "$(dirname "$0")/.."
test -f build-cuda/Release/reclin.node || { echo "build the CUDA binary first: node scripts/build-native.js --force --cuda --arch=90 --out=build-cuda" >&2; exit 1; }
test -d dist || { echo "build dist/ first: node scripts/build-ts.js" >&2; exit 1; }
bash ../shared/device/pack-node.sh > /dev/null
tar --exclude=node_modules/typescript --exclude='node_modules/@types' -czf .device/node_modules.tar.gz node_modules
mkdir -p .device/whl
ls .device/whl/fla_core-0.5.2-*.whl > /dev/null 2>&1 ||
  python3 -m pip download -q --no-deps -d .device/whl fla-core==0.5.2 flash-linear-attention==0.5.2
du -ch .device/* build-cuda/Release dist | tail -n 1
echo 'carry: [".device", "build-cuda/Release", "dist"]'
