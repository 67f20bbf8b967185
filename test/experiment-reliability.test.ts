// Tracker-level regression tests for issue 9: run creation is all or nothing, credentials in URLs are not
// recorded, a damaged record is named before anything changes, a .lock folder is reported as such, checkpoints
// publish after their TensorBoard points are on disk, and status.json says what a long evaluation is doing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExperimentTracker, LockError } from '../src/experiment';
import { captureEnv, withoutUserinfo } from '../src/experiment/provenance';
import { readScalars } from '../src/tensorboard';

const parentDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-exp-rel-'));
const weights = () => ({ w: { dtype: 'F32' as const, shape: [2], data: [1, 2] } });

test('creation is atomic: a failure while writing the new run leaves no folder, hidden or not', async () => {
  const parent = parentDir();
  // The disk fills up in the middle of creation: after the records are written, making metrics/ fails.
  const nodeFs = createRequire(__filename)('node:fs') as typeof fs;
  const mkdirSync = nodeFs.mkdirSync;
  let failed = 0;
  nodeFs.mkdirSync = ((p: fs.PathLike, o?: fs.MakeDirectoryOptions) => {
    if (String(p).includes('.creating-') && path.basename(String(p)) === 'metrics') {
      failed++;
      throw Object.assign(new Error(`ENOSPC: no space left on device, mkdir '${String(p)}'`), { code: 'ENOSPC' });
    }
    return mkdirSync(p, o);
  }) as typeof fs.mkdirSync;
  try {
    await assert.rejects(ExperimentTracker.create({ name: 'r', dir: parent, tensorboard: false }), /ENOSPC/);
  } finally {
    nodeFs.mkdirSync = mkdirSync;
  }
  assert.equal(failed, 1, 'the fault was injected once, after the records were written');
  assert.deepEqual(fs.readdirSync(parent), []);
  const ok = await ExperimentTracker.create({ name: 'r', dir: parent, tensorboard: false });
  assert.deepEqual(fs.readdirSync(parent), ['r']);
  await ok.close();
});

test('credentials in URL-valued environment variables are never recorded', () => {
  assert.equal(withoutUserinfo('https://user:pa55@hub.example.org/x'), 'https://hub.example.org/x');
  assert.equal(withoutUserinfo('https://hub.example.org'), 'https://hub.example.org');
  assert.equal(withoutUserinfo('not a url'), 'not a url');
  const env = captureEnv({ HF_ENDPOINT: 'http://me:secret@127.0.0.1:9/', RECLIN_X: 'https://a:b@c/' });
  assert.deepEqual(env, { HF_ENDPOINT: 'http://127.0.0.1:9/', RECLIN_X: 'https://c/' });
});

test('resume refuses a malformed metrics line, truncated metadata and a .lock folder before changing anything', async () => {
  const parent = parentDir();
  const tr = await ExperimentTracker.create({ name: 'r', dir: parent, tensorboard: false });
  tr.logMetrics({ 'train/loss': 1 }, 1);
  tr.logMetrics({ 'train/loss': 2 }, 2);
  await tr.close('interrupted');
  const dir = tr.dir;
  const snapshot = () => ['status.json', 'experiment_metadata.json', 'metrics/metrics.jsonl'].map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));

  const metrics = path.join(dir, 'metrics', 'metrics.jsonl');
  const good = fs.readFileSync(metrics, 'utf8');
  fs.writeFileSync(metrics, good.replace('"step":1', '"step":"one"'));
  let before = snapshot();
  await assert.rejects(ExperimentTracker.resume(dir, { tensorboard: false }), /metrics\.jsonl: record 1: step is "one", allowed: an integer >= 0/);
  assert.deepEqual(snapshot(), before);
  assert.ok(!fs.existsSync(path.join(dir, '.lock')));
  fs.writeFileSync(metrics, good);

  const metaFile = path.join(dir, 'experiment_metadata.json');
  const meta = fs.readFileSync(metaFile, 'utf8');
  fs.writeFileSync(metaFile, meta.slice(0, meta.length / 2));
  await assert.rejects(ExperimentTracker.resume(dir, { tensorboard: false }), (e: Error) => e.message.startsWith(`${metaFile}: not readable JSON, the file is truncated or damaged`));
  fs.writeFileSync(metaFile, meta);

  fs.mkdirSync(path.join(dir, '.lock'));
  before = snapshot();
  await assert.rejects(ExperimentTracker.resume(dir, { tensorboard: false }), (e: Error) => e instanceof LockError && /\.lock is a directory, not a lock file/.test(e.message));
  assert.deepEqual(snapshot(), before);
});

test('a checkpoint is published only after the TensorBoard points it covers are on disk; status.json carries the activity', async () => {
  const parent = parentDir();
  // A flush interval far longer than the test: only the checkpoint can have flushed the events.
  const tr = await ExperimentTracker.create({ name: 'r', dir: parent, flushIntervalMs: 3_600_000, heartbeatMs: 3_600_000 });
  for (let s = 1; s <= 3; s++) tr.logMetrics({ 'train/loss': 1 / s }, s);
  assert.equal(readScalars(path.join(tr.dir, 'logs'))['train/loss'], undefined, 'still buffered before the checkpoint');
  await tr.saveCheckpoint({ step: 3, model: weights() });
  assert.deepEqual(readScalars(path.join(tr.dir, 'logs'))['train/loss'].map((p) => p.step), [1, 2, 3]);
  tr.setActivity('evaluating at step 3: 1 of 9');
  assert.equal(JSON.parse(fs.readFileSync(path.join(tr.dir, 'status.json'), 'utf8')).activity, 'evaluating at step 3: 1 of 9');
  tr.setActivity(null);
  assert.equal(JSON.parse(fs.readFileSync(path.join(tr.dir, 'status.json'), 'utf8')).activity, null);
  await tr.close();
});
