// The OpenMP team policy (native/threads.h): unless a count is fixed, the team follows the cores that other
// processes leave free, read from the 1-minute load average. Each case runs in a child process with a fake
// load file (RECLIN_LOADAVG), since the policy is per process and the real load is whatever the machine has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAddon } from '../src/native';

const addon = path.resolve(loadAddon().path);

// Runs `steps` in a child: each step writes a load to the fake file, waits past the 250 ms re-read interval,
// runs one op and records threadInfo().
function policyUnder(loads: number[], env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-threads-'));
  const file = path.join(dir, 'loadavg');
  const script = `
    const fs = require('fs');
    const b = require(process.argv[1]);
    const out = [b.threadInfo()];
    for (const l of JSON.parse(process.argv[3])) {
      fs.writeFileSync(process.argv[2], l.toFixed(2) + ' 0.00 0.00 1/100 1\\n');
      const until = Date.now() + 300; while (Date.now() < until) {}
      b.zeros([1], 'f32', 'cpu').dispose();
      out.push(b.threadInfo());
    }
    process.stdout.write(JSON.stringify(out));`;
  fs.writeFileSync(file, '0.00 0.00 0.00 1/100 1\n');
  const e: Record<string, string | undefined> = { ...process.env, RECLIN_LOADAVG: file, ...env };
  if (!('OMP_NUM_THREADS' in env)) delete e.OMP_NUM_THREADS;
  const r = spawnSync(process.execPath, ['-e', script, addon, file, JSON.stringify(loads)], { encoding: 'utf8', env: e });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { threads: number; maxThreads: number; followsLoad: boolean }[];
}

test('the team shrinks to the free cores under load and grows back when the load goes', { skip: os.cpus().length < 2 && 'needs 2 cores' }, () => {
  const [start, busy, quiet] = policyUnder([64, 0]);
  assert.equal(start.followsLoad, true);
  assert.ok(start.maxThreads >= 2, `maxThreads ${start.maxThreads}`);
  assert.equal(busy.threads, 1, 'load 64: every core is taken, one thread');
  assert.equal(quiet.threads, quiet.maxThreads, 'load 0: every core is free');
});

test('a fixed count (setNumThreads or OMP_NUM_THREADS) is kept whatever the load', () => {
  const fixed = policyUnder([64], { OMP_NUM_THREADS: '2' });
  assert.deepEqual(fixed.map((t) => [t.threads, t.followsLoad]), [[2, false], [2, false]]);
  const b = loadAddon().binding;
  const before = b.threadInfo();
  try {
    b.setNumThreads(3);
    assert.deepEqual(b.threadInfo(), { threads: 3, maxThreads: 3, followsLoad: false });
    assert.equal(b.getNumThreads(), 3);
  } finally {
    b.setNumThreads(before.maxThreads);
  }
  assert.throws(() => b.setNumThreads(0), /threads: expected an integer from 1 to 1024, got 0/);
  assert.throws(() => b.setNumThreads(2 ** 31), /threads: expected an integer from 1 to 1024, got 2147483648/);
  assert.throws(() => b.setNumThreads(1.5), /threads: expected an integer within/);
});
