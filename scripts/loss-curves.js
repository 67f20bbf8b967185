#!/usr/bin/env node
// Compares the train/loss curves of runs made from the same config on different devices (scripts/gpu-check.sh):
//   node scripts/loss-curves.js <reference run dir> <run dir>...
// Prints the loss every 20 steps and, per run, the RMS-relative difference to the reference over all steps and the
// relative difference of the mean loss over the last 20 steps. The limits are ours, set before any GPU run: fp32
// runs differ only by summation order (RMS-relative ≤ 1e-2 over 200 steps, last-20 mean within 1%); bf16 runs
// (bf16 matmul inputs with fp32 accumulation, KDA storage in bf16; docs/precision.md) within 3% on both. A run is
// fp32 or bf16 by its run_config.json. Exit 1 if one misses.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { readMetrics } = require(path.join(__dirname, '..', 'dist'));

const LIMITS = { fp32: { rms: 1e-2, tail: 1e-2 }, bf16: { rms: 3e-2, tail: 3e-2 } };

function curve(dir) {
  const loss = new Map();
  for (const r of readMetrics(dir)) if (typeof r.metrics['train/loss'] === 'number') loss.set(r.step, r.metrics['train/loss']);
  const rc = JSON.parse(fs.readFileSync(path.join(dir, 'run_config.json'), 'utf8'));
  return { name: path.basename(dir), loss, precision: rc.precision ?? 'fp32', device: rc.device };
}

const dirs = process.argv.slice(2);
if (dirs.length < 2) {
  console.error('usage: node scripts/loss-curves.js <reference run dir> <run dir>...');
  process.exit(2);
}
let ok = true;
const runs = [];
for (const [i, d] of dirs.entries()) {
  try {
    runs.push(curve(d));
  } catch (e) {
    console.log(`FAIL ${d}: no run to compare (${e.message})`);
    if (i === 0) process.exit(1);  // no reference
    ok = false;
  }
}
const ref = runs[0];
const steps = [...ref.loss.keys()].sort((a, b) => a - b);
console.log(['step'.padEnd(6), ...runs.map((r) => `${r.name} (${r.device} ${r.precision})`.padEnd(26))].join(''));
for (const s of steps) if (s === 1 || s % 20 === 0) console.log([String(s).padEnd(6), ...runs.map((r) => (r.loss.has(s) ? r.loss.get(s).toFixed(4) : '-').padEnd(26))].join(''));
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const tail = steps.slice(-20);
for (const r of runs.slice(1)) {
  const common = steps.filter((s) => r.loss.has(s));
  if (common.length < steps.length) {
    console.log(`FAIL ${r.name}: ${common.length} of ${steps.length} steps logged`);
    ok = false;
    continue;
  }
  const num = Math.sqrt(mean(common.map((s) => (r.loss.get(s) - ref.loss.get(s)) ** 2)));
  const rms = num / Math.sqrt(mean(common.map((s) => ref.loss.get(s) ** 2)));
  const tailRef = mean(tail.map((s) => ref.loss.get(s)));
  const tailRel = Math.abs(mean(tail.map((s) => r.loss.get(s))) - tailRef) / Math.abs(tailRef);
  const lim = LIMITS[r.precision] ?? LIMITS.bf16;
  const pass = rms <= lim.rms && tailRel <= lim.tail;
  ok = ok && pass;
  console.log(`${pass ? 'ok  ' : 'FAIL'} ${r.name} vs ${ref.name}: loss RMS-relative ${rms.toExponential(2)} (limit ${lim.rms}), last-20 mean ${tailRel.toExponential(2)} (limit ${lim.tail})`);
}
process.exit(ok ? 0 : 1);
