// Crash safety: a writer killed with SIGKILL in the middle of a checkpoint leaves the previous checkpoints
// intact and loadable, no half-written folder that looks complete, untruncated metadata, and a `running`
// status that readRunStatus reports as stale; resuming cleans up and continues from the last checkpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { ExperimentTracker, readCheckpoint, readRunStatus, listCheckpoints, readMetrics } from '../src/experiment';

const root = path.resolve(__dirname, '..');
const N = 1 << 21; // 8 MiB of f32 per checkpoint: slow enough to be caught mid-write

// The child saves checkpoints in a loop until killed; step s holds the value s everywhere.
const CHILD = (parent: string) => `
  const { ExperimentTracker } = require(${JSON.stringify(path.join(root, 'src', 'experiment'))});
  (async () => {
    const tr = await ExperimentTracker.create({ name: 'crash', dir: ${JSON.stringify(parent)}, heartbeatMs: 5, keepLast: 2, flushIntervalMs: 0, modelConfig: { hidden_size: 8 } });
    for (let step = 1; ; step++) {
      tr.logMetrics({ 'train/loss': 1 / step }, step);
      tr.addNote('about to save ' + step, step);
      await tr.saveCheckpoint({ step, model: { 'model.w': { dtype: 'F32', shape: [${N}], data: new Float32Array(${N}).fill(step) } },
        optimizer: { 'model.w.exp_avg': { dtype: 'BF16', shape: [${N}], data: new Float32Array(${N}).fill(step) } },
        trainerState: { data_position: step * 10 }, metrics: { 'eval/loss': 1 / step } });
    }
  })();`;

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

async function killMidCheckpoint(parent: string): Promise<boolean> {
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', CHILD(parent)], { cwd: root, stdio: 'ignore' });
  const ck = path.join(parent, 'crash', 'checkpoints');
  const deadline = Date.now() + 60_000;
  try {
    while (Date.now() < deadline) {
      const names = fs.existsSync(ck) ? fs.readdirSync(ck) : [];
      if (names.some((n) => n.startsWith('step_')) && names.some((n) => n.startsWith('.tmp-'))) {
        child.kill('SIGKILL');
        break;
      }
      await sleep(1);
    }
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
  }
  return fs.existsSync(ck) && fs.readdirSync(ck).some((n) => n.startsWith('.tmp-'));
}

test('crash: SIGKILL during a checkpoint write leaves the previous checkpoint loadable and nothing that looks complete', async () => {
  let parent = '';
  let caught = false;
  for (let attempt = 0; attempt < 8 && !caught; attempt++) {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-crash-'));
    caught = await killMidCheckpoint(parent);
  }
  assert.ok(caught, 'the kill landed during a checkpoint write in one of the attempts');
  const dir = path.join(parent, 'crash');

  // Metadata and status are whole JSON documents (never truncated).
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'experiment_metadata.json'), 'utf8'));
  JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8'));
  // No temporary files of the atomic writer left where a reader would take them for the real thing.
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.json') && n.includes('tmp')), []);

  // Every folder that looks like a checkpoint is complete and verifies; the interrupted one is hidden.
  const complete = listCheckpoints(dir);
  assert.ok(complete.length >= 1);
  const names = fs.readdirSync(path.join(dir, 'checkpoints'));
  assert.ok(names.every((n) => /^step_\d{6}$/.test(n) || n.startsWith('.tmp-')), names.join(', '));
  for (const c of complete) {
    const loaded = readCheckpoint(dir, c.step);
    const w = loaded.model['model.w'].data as Float32Array;
    assert.equal(w.length, N);
    assert.ok(w[0] === c.step && w[N - 1] === c.step, `step ${c.step} holds its own values`);
    assert.equal(loaded.trainerState.data_position, c.step * 10);
  }
  // The best checkpoint recorded in the metadata exists.
  if (meta.best_checkpoint) assert.ok(complete.some((c) => c.step === meta.best_checkpoint.step));

  // The dead writer's `running` is reported as stale.
  const st = readRunStatus(dir);
  assert.equal(st.status, 'stale');
  assert.match(st.reason!, /is gone/);

  // Resuming takes over the stale lock, removes the half-written folder and continues from the last checkpoint.
  const latest = complete[complete.length - 1].step;
  const tr = await ExperimentTracker.resume(dir);
  assert.equal((await tr.loadCheckpoint('latest')).step, latest);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).filter((n) => n.startsWith('.')), []);
  assert.ok(readMetrics(dir).every((r) => r.step <= latest), 'records after the checkpoint are superseded');
  tr.logMetrics({ 'train/loss': 0 }, latest + 1);
  await tr.close();
  assert.equal(readRunStatus(dir).status, 'completed');
});
