#!/usr/bin/env node
// Writes prebuilds/<platform>-<arch>/: one CPU binary and one CUDA binary per GPU architecture, each with
// its SASS plus PTX (so an arch-specific kernel, e.g. Hopper-only, lives in its own binary; the loader picks
// by compute capability). Usage: npm run prebuild [-- --arch=80,86,89,90] [--skip-cuda]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const archArg = args.find((a) => a.startsWith('--arch='));
const archs = (archArg ? archArg.slice(7) : '80,86,89,90').split(',').filter(Boolean);
const dest = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
fs.mkdirSync(dest, { recursive: true });

function build(extra, outDir) {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js'), '--force', `--out=${outDir}`, ...extra], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`[reclin] prebuild failed for ${outDir}`);
    process.exit(r.status ?? 1);
  }
  return path.join(root, outDir, 'Release', 'reclin.node');
}

function place(src, name) {
  const tmp = path.join(dest, `.${name}.tmp`);
  fs.copyFileSync(src, tmp);
  fs.renameSync(tmp, path.join(dest, name));
  console.log(`[reclin] wrote ${path.relative(root, path.join(dest, name))} (${(fs.statSync(path.join(dest, name)).size / 1e6).toFixed(1)} MB)`);
}

place(build([], 'build-prebuild/cpu'), 'reclin-cpu.node');
if (!args.includes('--skip-cuda')) {
  for (const a of archs) place(build(['--cuda', `--arch=${a}`], `build-prebuild/sm${a}`), `reclin-cuda-sm${a}.node`);
}
