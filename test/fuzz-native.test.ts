// Fuzz-style attacks on every export of the native addon and on the Tensor constructors (the attacks live in
// fuzz-native-child.ts). They run in a child process under a 4 GiB data-size limit (ulimit -d), so a crash or hang
// is a test failure rather than a dead runner, and a legal but huge allocation fails instead of swapping.
// After a crash the child is restarted at the next attack, so one run reports every broken attack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CHILD = path.join(__dirname, 'fuzz-native-child.ts');
const HANG_MS = 10_000; // no single attack may take this long

interface Outcome {
  total: number;
  held: number;
  broken: string[];
  names: Map<number, string>;
}

/** Runs the child from attack `first`; resolves with the lines it logged and how it ended. */
function runChild(first: number): Promise<{ lines: string[]; code: number | null; signal: string | null; hung: boolean }> {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-fuzz-')), 'log');
  fs.writeFileSync(log, '');
  return new Promise((resolve) => {
    // ulimit -d: data (heap and private mappings) in KiB. Not -v: V8 reserves large address ranges for wasm.
    const cmd = `ulimit -d 4194304 && exec "${process.execPath}" --import tsx "${CHILD}" ${first} "${log}"`;
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RECLIN_QUIET: '1', OMP_NUM_THREADS: '2' } });
    let err = '';
    let hung = false;
    let size = 0;
    let still = 0;
    // The log grows with every attack; one that stops it growing for HANG_MS is a hang (start-up gets 3x).
    const poll = setInterval(() => {
      const now = fs.statSync(log).size;
      still = now === size ? still + 500 : 0;
      size = now;
      if (still >= (size === 0 ? 3 * HANG_MS : HANG_MS)) {
        hung = true;
        child.kill('SIGKILL');
      }
    }, 500);
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code, signal) => {
      clearInterval(poll);
      if (code !== 0 && err) process.stderr.write(err.slice(-2000));
      const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
      fs.rmSync(path.dirname(log), { recursive: true, force: true });
      resolve({ lines, code, signal, hung });
    });
  });
}

async function fuzz(): Promise<Outcome> {
  const o: Outcome = { total: -1, held: 0, broken: [], names: new Map() };
  let next = 0;
  for (let restarts = 0; restarts < 50; ++restarts) {
    const r = await runChild(next);
    let running = -1;
    let done = false;
    for (const line of r.lines) {
      const [kind, idx, ...rest] = line.split(' ');
      const i = Number(idx);
      if (kind === 'total') o.total = i;
      else if (kind === 'start') {
        running = i;
        o.names.set(i, rest.join(' '));
      } else if (kind === 'held') {
        o.held++;
        running = -1;
      } else if (kind === 'broke') {
        o.broken.push(`#${i} ${o.names.get(i)}: ${rest.join(' ')}`);
        running = -1;
      } else if (kind === 'done') done = true;
    }
    if (done && r.code === 0) return o;
    if (running < 0) throw new Error(`fuzz child ended without running an attack (code ${r.code}, signal ${r.signal})`);
    o.broken.push(`#${running} ${o.names.get(running)}: ${r.hung ? 'hung' : `killed the process (code ${r.code}, signal ${r.signal})`}`);
    next = running + 1;
    if (next >= o.total) return o;
  }
  throw new Error('fuzz: too many crashes; giving up');
}

test('fuzz: no input from JS crashes, hangs or overflows the native layer', { timeout: 300_000 }, async (t) => {
  const o = await fuzz();
  t.diagnostic(`fuzz-native: ${o.total} attacks, ${o.held} held`);
  assert.ok(o.total > 1000, `expected over 1000 attacks, got ${o.total}`);
  // Every regression class of issue 9 item 1 is among them.
  const regress = [...o.names.values()].filter((n) => n.startsWith('regress '));
  assert.ok(regress.length >= 20, `expected the regression attacks, got ${regress.length}`);
  assert.deepEqual(o.broken, [], `${o.broken.length} of ${o.total} attacks broke:\n${o.broken.join('\n')}`);
  assert.equal(o.held, o.total);
});
