#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for scripts/gpu-check.sh on the GPU machine: this machine's Node binary,
# the runtime node_modules (without the TypeScript compiler and type packages), and the
# flash-linear-attention wheels from the local wheelhouse. Build build-cuda/ and dist/ first.
set -euo pipefail
cd "$(dirname "$0")/.."
test -f build-cuda/Release/reclin.node || { echo "build the CUDA binary first: node scripts/build-native.js --force --cuda --arch=90 --out=build-cuda" >&2; exit 1; }
test -d dist || { echo "build dist/ first: node scripts/build-ts.js" >&2; exit 1; }
# this machine's node, as ../shared/device/pack-node.sh packs it (done here so it also works in a git worktree)
mkdir -p .device
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.device/' "$exclude" 2>/dev/null || echo '/.device/' >> "$exclude"
node_bin=$(command -v node)
if [[ ! -s .device/node.xz || "$node_bin" -nt .device/node.xz ]]; then
  xz -T2 -6 -c "$node_bin" > .device/node.xz.tmp && mv .device/node.xz.tmp .device/node.xz
fi
tar --exclude=node_modules/typescript --exclude='node_modules/@types' -czf .device/node_modules.tar.gz node_modules
mkdir -p .device/whl
ls .device/whl/fla_core-0.5.2-*.whl > /dev/null 2>&1 ||
  python3 -m pip download -q --no-deps -d .device/whl fla-core==0.5.2 flash-linear-attention==0.5.2
du -ch .device/* build-cuda/Release dist | tail -n 1
echo 'carry: [".device", "build-cuda/Release", "dist"]'
