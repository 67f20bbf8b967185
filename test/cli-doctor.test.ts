// `reclin doctor`, `--version` and `--help`, through the TypeScript source and through the built bin/reclin.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli, repoRoot } from './cli-helpers';

test('reclin doctor reports the loaded addon, CPU features and GPUs', async () => {
  const r = await runCli(['doctor', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.addon.loaded, true);
  assert.ok(fs.existsSync(rep.addon.path));
  assert.equal(typeof rep.addon.build.openmp, 'boolean');
  assert.ok(rep.addon.candidates.some((c: { path: string }) => c.path === rep.addon.path));
  // The kernel variants are the addon's own report: the same answers as asking it directly.
  const b = require(rep.addon.path);
  assert.deepEqual(rep.addon.kernels, { gemm: b.gemmKernel(), kda: b.kdaIsa(), vec: b.vecKernel(), adamw: b.adamwUseKernel() });
  for (const k of Object.values(rep.addon.kernels)) assert.ok(['avx512', 'avx2', 'scalar'].includes(k as string), String(k));
  assert.deepEqual(rep.addon.cpuFeatures, b.cpuFeatures());
  assert.equal(typeof rep.addon.threads.followsLoad, 'boolean');
  assert.ok(rep.addon.threads.threads >= 1 && rep.addon.threads.threads <= rep.addon.threads.maxThreads);
  assert.ok(rep.cpu.logicalCores >= 1);
  assert.equal(typeof rep.gpus.available, 'boolean');
  const text = await runCli(['doctor']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /chosen {3}.*reclin.*\.node \(/);
  assert.match(text.stdout, /kernels {2}gemm (avx512|avx2|scalar), kda (avx512|avx2|scalar), vec (avx512|avx2|scalar), adamw (avx512|avx2|scalar)/);
  assert.match(text.stdout, /threads {2}\d+ (now, following the free cores \(at most \d+\)|\(fixed\))/);
});

test('reclin doctor exits non-zero and says why when no addon loads', async () => {
  const r = await runCli(['doctor'], { env: { RECLIN_ADDON: path.join(repoRoot, 'no-such-addon.node') } });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /NOT LOADED: reclin: RECLIN_ADDON names .*no-such-addon\.node, which does not exist/);
});

test('bad commands and options are rejected with a suggestion; --version prints the package version', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const v = await runCli(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), pkg.version);
  const bad = await runCli(['doctr']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown command 'doctr'\n\(Did you mean doctor\?\)/);
});

test('bin/reclin.js runs the built CLI', { skip: !fs.existsSync(path.join(repoRoot, 'dist', 'cli', 'main.js')) && 'dist/ not built' }, () => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'reclin.js'), '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: reclin/);
  assert.match(r.stdout, /upload/);
});
