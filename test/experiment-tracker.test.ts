// ExperimentTracker: directory layout, provenance, status/heartbeat, lock, notes/issues, metrics, checkpoints
// (checksums, best, retention), resume supersession, model card.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  ExperimentTracker, ExperimentExistsError, ConfigError, LockError, CheckpointError, readRunStatus, readMetrics, readCheckpoint,
  addNoteToRun, listExperiments, createModelCardForRun, summarizeRunDir, toYaml,
} from '../src/experiment';
import { readScalars } from '../src/tensorboard';
import { Tensor } from '../src/tensor';

const root = path.resolve(__dirname, '..');

function parentDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-trk-'));
}

function readJson(file: string): any {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const PHASE_A = { phase: 'a' as const, model: { path: 'experiments/base_001' }, num_steps: 20, batch_size: 4, optimizer: { lr: 1e-3 }, schedule: { warmup_steps: 5 }, seed: 7 };

function weights(step: number) {
  return {
    'model.embed_tokens.weight': { dtype: 'F32' as const, shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => i + step) },
    'model.layers.0.ids': { dtype: 'I32' as const, shape: [2], data: Int32Array.from([step, -step]) },
  };
}

test('tracker: create lays out the directory of docs/design/architecture.md and records provenance', async () => {
  const parent = parentDir();
  const tr = await ExperimentTracker.create({ name: 'phase_a_001', dir: parent, description: 'first phase A run', recursiveConfig: path.join(root, 'configs', 'recursive_phase_a.json'), runConfig: PHASE_A, command: ['reclin', 'run', '--phase', 'a', '--description', 'two words'] });
  try {
    assert.equal(tr.dir, path.join(parent, 'phase_a_001'));
    for (const f of ['experiment_metadata.json', 'recursive_config.json', 'run_config.json', 'status.json', 'checkpoints', 'logs', 'metrics/metrics.jsonl', 'notes']) {
      assert.ok(fs.existsSync(path.join(tr.dir, f)), f);
    }
    const m = readJson(path.join(tr.dir, 'experiment_metadata.json'));
    assert.equal(m.id, tr.id);
    assert.match(tr.id, /^phase_a_001_\d{8}-\d{6}Z_[0-9a-f]{6}$/);
    assert.equal(m.name, 'phase_a_001');
    assert.equal(m.description, 'first phase A run');
    assert.equal(m.status, 'running');
    assert.deepEqual([m.seed, m.phase, m.num_steps, m.batch_size, m.learning_rate, m.warmup_steps, m.base_model], [7, 'a', 20, 4, 1e-3, 5, 'experiments/base_001']);
    assert.equal(m.config_paths.recursive, path.join(root, 'configs', 'recursive_phase_a.json'));
    assert.equal(m.command.line, "reclin run --phase a --description 'two words'");
    assert.equal(m.host.hostname, os.hostname());
    assert.equal(m.runtime.node, process.version);
    assert.ok(m.runtime.addon !== null || typeof m.runtime.addon_error === 'string', 'addon recorded, or why not');
    if (m.runtime.addon) assert.ok(Number.isInteger(m.runtime.addon.threads), 'thread count recorded (determinism depends on it)');
    assert.equal(typeof m.env, 'object');
    // The tests run inside the reclin repository (a checkout or CI's clone): git state must be there.
    if (fs.existsSync(path.join(root, '.git'))) {
      assert.match(m.git.commit, /^[0-9a-f]{40}$/);
      assert.equal(typeof m.git.dirty, 'boolean');
      if (m.git.diff_sha256) assert.ok(fs.existsSync(path.join(tr.dir, 'git_diff.patch')));
    }
    assert.equal(readJson(path.join(tr.dir, 'recursive_config.json')).recursive_enabled, true);
    assert.equal(readJson(path.join(tr.dir, 'run_config.json')).optimizer.weight_decay, 0.05);
    const st = readJson(path.join(tr.dir, 'status.json'));
    assert.equal(st.status, 'running');
    assert.equal(st.pid, process.pid);
    assert.equal(readRunStatus(tr.dir).status, 'running');
  } finally {
    await tr.close();
  }
  const st = readJson(path.join(tr.dir, 'status.json'));
  assert.equal(st.status, 'completed');
  assert.ok(st.ended_at);
  assert.equal(fs.existsSync(path.join(tr.dir, '.lock')), false, 'lock released');
  assert.ok(fs.existsSync(path.join(tr.dir, 'README.md')));
});

test('tracker: a run never reuses another run\'s directory; a bad config fails before anything is written', async () => {
  const parent = parentDir();
  const a = await ExperimentTracker.create({ name: 'x', dir: parent, tensorboard: false });
  await a.close();
  await assert.rejects(ExperimentTracker.create({ name: 'x', dir: parent }), (e: Error) => e instanceof ExperimentExistsError && e.message.startsWith(`${path.join(parent, 'x')} already exists`));
  const b = await ExperimentTracker.create({ name: 'x', dir: parent, ifExists: 'suffix', tensorboard: false });
  assert.equal(path.basename(b.dir), 'x_2');
  await b.close();
  const before = fs.readdirSync(parent).sort();
  await assert.rejects(ExperimentTracker.create({ name: 'bad', dir: parent, recursiveConfig: { commit_threshold: 2, chunk_size: 3 } }), (e: Error) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.problems, ['commit_threshold: got 2, allowed: a number in [0, 1]', 'chunk_size: unknown field, got 3 (did you mean "chunk_width"?), allowed: recursive_enabled, chunk_width, max_inner_steps, commit_threshold, min_commit_threshold, layers_to_refine, use_latent_token, d_state, gate_hidden, max_chunk_len, corruption_rate, corruption_schedule, corruption_rate_final, lambda_final, lambda_masked, lambda_halt, lambda_len, lambda_ponder, lambda_stability, cache_reset_policy, enable_length_head, use_soft_tokens']);
    return true;
  });
  await assert.rejects(ExperimentTracker.create({ name: 'bad2', dir: parent, runConfig: { phase: 'b' } }), /model\.path: got null, allowed: a model or experiment directory \(phase "b" starts from a trained base model\)/);
  await assert.rejects(ExperimentTracker.create({ name: '../escape', dir: parent }), /name: got "..\/escape", allowed: a folder name/);
  assert.deepEqual(fs.readdirSync(parent).sort(), before, 'nothing written');
});

test('tracker: a second writer on the same directory is refused; a finished run can be resumed', async () => {
  const parent = parentDir();
  const tr = await ExperimentTracker.create({ name: 'locked', dir: parent, tensorboard: false });
  await assert.rejects(ExperimentTracker.resume(tr.dir), (e: Error) => e instanceof LockError && e.message.includes(`is locked by pid ${process.pid} on ${os.hostname()}`) && e.message.includes('a second writer is refused'));
  assert.equal(addNoteToRun(tr.dir, 'note', 'from outside').merged, false, 'a live run merges it itself');
  await tr.close();
  assert.equal(addNoteToRun(tr.dir, 'note', 'added after the run', 3).merged, true);
  assert.match(fs.readFileSync(path.join(tr.dir, 'notes', 'notes.txt'), 'utf8'), /^\d{4}-\d\d-\d\dT[\d:.]+Z: from outside\n\[Step 3\] \d{4}-\d\d-\d\dT[\d:.]+Z: added after the run\n$/);
  const again = await ExperimentTracker.resume(tr.dir);
  assert.equal(again.segment, 1);
  assert.equal(again.id, tr.id);
  await again.close();
  const m = readJson(path.join(tr.dir, 'experiment_metadata.json'));
  assert.equal(m.segments.length, 2);
  assert.deepEqual(m.notes.map((n: { text: string }) => n.text), ['from outside', 'added after the run']);
});

test('tracker: notes and issues go to metadata and text files; updateMetadata rejects unknown fields', async () => {
  const tr = await ExperimentTracker.create({ name: 'notes', dir: parentDir(), tensorboard: false });
  tr.addNote('loss plateaued', 120);
  tr.addNote('general remark');
  tr.addIssue('NaN at step 130; lowered lr', 130);
  assert.throws(() => tr.addNote(''), /addNote: text must be a non-empty string, got ""/);
  assert.throws(() => tr.addIssue('x', -1), /addIssue: step must be an integer >= 0, got -1/);
  const notes = fs.readFileSync(path.join(tr.dir, 'notes', 'notes.txt'), 'utf8').split('\n');
  assert.match(notes[0], /^\[Step 120\] \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z: loss plateaued$/);
  assert.match(notes[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z: general remark$/);
  assert.match(fs.readFileSync(path.join(tr.dir, 'notes', 'issues.txt'), 'utf8'), /^\[Step 130\] .*: NaN at step 130; lowered lr\n$/);
  tr.updateMetadata({ description: 'changed', tags: ['t1'], extra: { dataset_rev: 'abc' } });
  assert.throws(() => tr.updateMetadata({ git_commit: 'x' } as never), (e: Error) => e instanceof ConfigError && e.problems[0] === 'git_commit: unknown field, got "x", allowed: description, tags, seed, phase, device, num_steps, batch_size, learning_rate, warmup_steps, base_model, dataset, license, final_loss, extra');
  assert.throws(() => tr.updateMetadata({ batch_size: 0 }), /batch_size: got 0, allowed: an integer >= 1/);
  const m = tr.metadata;
  assert.equal(m.description, 'changed');
  assert.deepEqual(m.extra, { dataset_rev: 'abc' });
  assert.deepEqual(m.notes.map((n) => [n.step, n.text]), [[120, 'loss plateaued'], [null, 'general remark']]);
  assert.deepEqual(m.issues.map((n) => [n.step, n.text]), [[130, 'NaN at step 130; lowered lr']]);
  await tr.close('failed', new Error('boom'));
  const st = readJson(path.join(tr.dir, 'status.json'));
  assert.equal(st.status, 'failed');
  assert.equal(st.error.message, 'boom');
  assert.match(st.error.stack, /experiment-tracker\.test\.ts/);
  assert.throws(() => tr.addNote('late'), /addNote: the tracker of .* is closed \(failed\)/);
});

test('tracker: metrics go to metrics.jsonl and TensorBoard, NaN survives, bad input is refused', async () => {
  const tr = await ExperimentTracker.create({ name: 'metrics', dir: parentDir(), flushIntervalMs: 0 });
  tr.logMetrics({ 'train/loss': 2.5, 'train/lr': 1e-3 }, 1);
  tr.logMetrics({ 'train/loss': NaN }, 2);
  tr.logMetrics({ 'eval/loss': 2.25 }, 2);
  tr.logText('config', 'hello', 0);
  tr.logGenerationSample('2+2=', '4', 2, { exact_match: 1 });
  assert.throws(() => tr.logMetrics({ 'train/loss': '1' as never }, 3), /logMetrics: metrics\["train\/loss"\] must be a number, got string "1"/);
  assert.throws(() => tr.logMetrics({ a: 1 }, 1.5), /logMetrics: step must be an integer >= 0, got 1.5/);
  await tr.close();
  const recs = readMetrics(tr.dir);
  assert.deepEqual(recs.map((r) => r.step), [1, 2, 2]);
  assert.ok(Number.isNaN(recs[1].metrics['train/loss']));
  assert.match(fs.readFileSync(path.join(tr.dir, 'metrics', 'metrics.jsonl'), 'utf8'), /"train\/loss":"NaN"/);
  const sc = readScalars(path.join(tr.dir, 'logs'));
  assert.deepEqual(sc['train/loss'].map((s) => s.step), [1, 2]);
  assert.ok(Number.isNaN(sc['train/loss'][1].value));
  assert.equal(sc['eval/loss'][0].value, 2.25);
  const sample = JSON.parse(fs.readFileSync(path.join(tr.dir, 'notes', 'generation_samples.jsonl'), 'utf8'));
  assert.deepEqual([sample.step, sample.prompt, sample.generated, sample.metrics.exact_match], [2, '2+2=', '4', 1]);
  const m = readJson(path.join(tr.dir, 'experiment_metadata.json'));
  assert.equal(m.final_loss, 2.25, 'final loss = last eval/loss');
  assert.equal(m.final_metrics['train/loss'], 'NaN');
});

test('tracker: checkpoints hold a loadable model directory, verify their checksums and name a corrupt file', async () => {
  const modelConfig = { model_type: 'kimi_linear', hidden_size: 3, vocab_size: 4 };
  const tr = await ExperimentTracker.create({ name: 'ckpt', dir: parentDir(), tensorboard: false, modelConfig, runConfig: { checkpoint: { keep_last: null } } });
  const t = Tensor.from(Float32Array.from([1.5, -2, 3.25, 4]), [2, 2]);
  await tr.saveCheckpoint({ step: 100, model: { ...weights(100), 'lm_head.weight': t }, optimizer: { 'lm_head.weight.exp_avg': { dtype: 'BF16', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) } }, trainerState: { rng: { s: [1, 2] }, data_position: 800, schedule: { lr: 1e-3 } }, metrics: { 'eval/loss': 3.5 } });
  t.dispose();
  await assert.rejects(tr.saveCheckpoint({ step: 101, model: { 'lm_head.weight': t } }), /tensor "lm_head.weight": cannot read the tensor \(toFloat32Array: tensor was disposed\)/);
  assert.deepEqual(tr.listCheckpoints(), [100], 'a failed save leaves nothing behind');
  assert.deepEqual(fs.readdirSync(path.join(tr.dir, 'checkpoints')), ['step_000100']);
  const dir = path.join(tr.dir, 'checkpoints', 'step_000100');
  for (const f of ['model/config.json', 'model/model.safetensors', 'optimizer.safetensors', 'trainer_state.json', 'recursive_config.json', 'checkpoint_metadata.json']) assert.ok(fs.existsSync(path.join(dir, f)), f);
  const cm = readJson(path.join(dir, 'checkpoint_metadata.json'));
  assert.deepEqual(Object.keys(cm.files).sort(), ['model/config.json', 'model/model.safetensors', 'optimizer.safetensors', 'recursive_config.json', 'trainer_state.json']);
  assert.equal(cm.step, 100);
  assert.equal(cm.is_best, true);
  assert.deepEqual(cm.metrics, { 'eval/loss': 3.5 });
  const loaded = await tr.loadCheckpoint('latest');
  assert.equal(loaded.step, 100);
  assert.deepEqual(loaded.modelConfig, modelConfig);
  assert.deepEqual([...(loaded.model['lm_head.weight'].data as Float32Array)], [1.5, -2, 3.25, 4]);
  assert.deepEqual([...(loaded.model['model.layers.0.ids'].data as Int32Array)], [100, -100]);
  assert.equal(loaded.optimizer!['lm_head.weight.exp_avg'].dtype, 'BF16');
  assert.deepEqual(loaded.trainerState, { rng: { s: [1, 2] }, data_position: 800, schedule: { lr: 1e-3 }, step: 100, best_so_far: { step: 100, metric: 'eval/loss', value: 3.5 } });
  await assert.rejects(tr.saveCheckpoint({ step: 5, model: weights(5), trainerState: { step: 6 } }), /trainerState.step \(6\) differs from step \(5\)/);
  await tr.close();
  // Flip one byte of the optimizer state: loading must name that file.
  const opt = path.join(dir, 'optimizer.safetensors');
  const good = fs.readFileSync(opt);
  const bad = Buffer.from(good);
  bad[bad.length - 1] ^= 0xff;
  fs.writeFileSync(opt, bad);
  assert.throws(() => readCheckpoint(tr.dir, 100), (e: Error) => e instanceof CheckpointError && e.message.startsWith(`${opt}: corrupt (sha256 `) && (e as CheckpointError).file === opt);
  fs.writeFileSync(opt, good);
  assert.equal(readCheckpoint(tr.dir, 100).step, 100);
  fs.rmSync(path.join(dir, 'trainer_state.json'));
  assert.throws(() => readCheckpoint(tr.dir, 100), /trainer_state\.json: missing from the checkpoint/);
  assert.throws(() => readCheckpoint(tr.dir, 7), /no checkpoint for step 7 \(have: 100\)/);
});

test('tracker: retention keeps the last N plus the best, and the best is never deleted', async () => {
  const tr = await ExperimentTracker.create({ name: 'retention', dir: parentDir(), tensorboard: false, modelConfig: { m: 1 }, keepLast: 2, bestMetric: 'eval/loss', bestMode: 'min' });
  const losses = [5, 1, 3, 4, 6, 2.5];
  const deleted: number[] = [];
  for (let i = 0; i < losses.length; i++) {
    const r = await tr.saveCheckpoint({ step: (i + 1) * 10, model: weights(i), metrics: { 'eval/loss': losses[i] } });
    assert.equal(r.isBest, i === 0 || i === 1, `step ${(i + 1) * 10} best?`);
    deleted.push(...r.deleted);
  }
  assert.deepEqual(tr.listCheckpoints(), [20, 50, 60]);
  assert.deepEqual(deleted, [10, 30, 40]);
  assert.equal((await tr.loadCheckpoint('best')).step, 20);
  assert.equal(tr.metadata.best_checkpoint!.value, 1);
  // An explicit isBest wins over the metric.
  await tr.saveCheckpoint({ step: 70, model: weights(7), metrics: { 'eval/loss': 9 }, isBest: true });
  assert.equal((await tr.loadCheckpoint('best')).step, 70);
  assert.deepEqual(tr.listCheckpoints(), [60, 70]);
  await tr.close();
  assert.equal(readJson(path.join(tr.dir, 'experiment_metadata.json')).best_checkpoint.step, 70);
  assert.equal(fs.readdirSync(path.join(tr.dir, 'checkpoints')).filter((n) => n.startsWith('.')).length, 0, 'no leftovers');
});

test('tracker: resume supersedes what was logged after the checkpoint (metrics, TensorBoard, later checkpoints)', async () => {
  const tr = await ExperimentTracker.create({ name: 'resume', dir: parentDir(), modelConfig: { m: 1 }, flushIntervalMs: 0, runConfig: { checkpoint: { keep_last: null } } });
  for (let s = 1; s <= 10; s++) {
    tr.logMetrics({ 'train/loss': 10 - s }, s);
    if (s === 5) await tr.saveCheckpoint({ step: 5, model: weights(5) });
  }
  await tr.close('interrupted');
  const again = await ExperimentTracker.resume(tr.dir);
  assert.equal((await again.loadCheckpoint('latest')).step, 5);
  for (let s = 6; s <= 8; s++) again.logMetrics({ 'train/loss': 100 + s }, s);
  await again.close();
  const recs = readMetrics(tr.dir);
  assert.deepEqual(recs.map((r) => [r.step, r.segment]), [[1, 0], [2, 0], [3, 0], [4, 0], [5, 0], [6, 1], [7, 1], [8, 1]]);
  const sup = fs.readFileSync(path.join(tr.dir, 'superseded', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(sup.map((r) => r.record.step), [6, 7, 8, 9, 10]);
  const tb = readScalars(path.join(tr.dir, 'logs'))['train/loss'];
  assert.deepEqual(tb.map((s) => s.step), [1, 2, 3, 4, 5, 6, 7, 8], 'TensorBoard sees one history without duplicate steps');
  assert.deepEqual(tb.slice(5).map((s) => s.value), [106, 107, 108]);
  const s = summarizeRunDir(tr.dir);
  assert.equal(s.segments, 2);
  assert.equal(s.final_metrics['train/loss'], 108);
  assert.equal(readJson(path.join(tr.dir, 'experiment_metadata.json')).final_loss, 108, 'final loss of the resumed run, not the first segment');
});

test('tracker: status of a dead writer is reported as stale; listExperiments shows every run', async () => {
  const parent = parentDir();
  const tr = await ExperimentTracker.create({ name: 'live', dir: parent, tensorboard: false });
  const dead = path.join(parent, 'dead');
  fs.mkdirSync(dead);
  fs.copyFileSync(path.join(tr.dir, 'experiment_metadata.json'), path.join(dead, 'experiment_metadata.json'));
  const st = readJson(path.join(tr.dir, 'status.json'));
  // A pid that cannot be alive on this host, and a run on another host whose heartbeat stopped long ago.
  fs.writeFileSync(path.join(dead, 'status.json'), JSON.stringify({ ...st, pid: 2 ** 22 + 12345 }));
  assert.equal(readRunStatus(dead).status, 'stale');
  assert.match(readRunStatus(dead).reason!, /recorded as running, but its process 4206649 on .* is gone/);
  fs.writeFileSync(path.join(dead, 'status.json'), JSON.stringify({ ...st, host: 'elsewhere', heartbeat_at: new Date(Date.now() - 3600_000).toISOString() }));
  assert.match(readRunStatus(dead).reason!, /recorded as running on elsewhere, but its last heartbeat was 3600 s ago/);
  fs.writeFileSync(path.join(dead, 'status.json'), JSON.stringify({ ...st, host: 'elsewhere', heartbeat_at: new Date().toISOString() }));
  assert.equal(readRunStatus(dead).status, 'running');
  const list = listExperiments(parent);
  assert.deepEqual(list.map((r) => [r.name, r.status]).sort(), [['dead', 'running'], ['live', 'running']]);
  await tr.close();
  assert.equal(readRunStatus(tr.dir).status, 'completed');
});

test('tracker: a process that exits without close() leaves a truthful status and no lock', () => {
  const parent = parentDir();
  const script = `
    const { ExperimentTracker } = require(${JSON.stringify(path.join(root, 'src', 'experiment'))});
    ExperimentTracker.create({ name: 'r', dir: ${JSON.stringify(parent)}, tensorboard: false }).then((tr) => {
      tr.logMetrics({ 'train/loss': 1 }, 1);
      process.exitCode = 3;
    });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 3, r.stderr);
  const st = readJson(path.join(parent, 'r', 'status.json'));
  assert.equal(st.status, 'failed');
  assert.match(st.error.message, /exited \(code 3\) before the tracker was closed/);
  assert.equal(fs.existsSync(path.join(parent, 'r', '.lock')), false);
});

test('model card: YAML front matter with the Hub keys, results from the logs, notes, issues and the command', async () => {
  const parent = parentDir();
  fs.mkdirSync(path.join(parent, 'base_001'));
  const tr = await ExperimentTracker.create({ name: 'card', dir: parent, description: 'A phase A run on addition.', runConfig: { ...PHASE_A, model: { path: path.join(parent, 'base_001') } }, tensorboard: false, modelConfig: { m: 1 }, command: ['reclin', 'run', '--phase', 'a'], tags: ['addition'] });
  tr.logMetrics({ 'train/loss': 2 }, 10);
  tr.logMetrics({ 'eval/loss': 1.75, 'eval/exact_match': 0.5 }, 10);
  tr.addNote('commit rate rising', 10);
  tr.addIssue('halt loss stuck; fixed targets', 8);
  await tr.saveCheckpoint({ step: 10, model: weights(10), metrics: { 'eval/loss': 1.75 } });
  const card = tr.createModelCard();
  await tr.close();
  const onDisk = fs.readFileSync(path.join(tr.dir, 'README.md'), 'utf8');
  assert.ok(onDisk.startsWith('---\nlicense: "apache-2.0"\nlibrary_name: "reclin"\npipeline_tag: "text-generation"\n'));
  assert.ok(card.startsWith('---\n'));
  assert.ok(onDisk.includes('          - type: "loss"\n            value: 1.75\n            name: "eval/loss"'));
  assert.ok(onDisk.includes('- "addition"'));
  assert.ok(!onDisk.includes('base_model:'), 'a local base model directory is not a Hub id');
  assert.ok(onDisk.includes('A phase A run on addition.'));
  assert.ok(onDisk.includes('| eval/loss | 1.75 (10) | 1.75 (10) | 1.75 (10) |'));
  assert.ok(onDisk.includes('- [step 10] commit rate rising'));
  assert.ok(onDisk.includes('- [step 8] halt loss stuck; fixed targets'));
  assert.ok(onDisk.includes('```bash\nreclin run --phase a\n```'));
  assert.ok(onDisk.includes('Best checkpoint: step 10 (eval/loss = 1.75, lower is better)'));
  assert.ok(!/N\/A/.test(onDisk));
  assert.equal(createModelCardForRun(tr.dir), onDisk, 'the card is a function of the run directory');
  assert.ok(onDisk.includes(`- Base model: \`${path.join(parent, 'base_001')}\``));
  const hub = await ExperimentTracker.create({ name: 'card_hub', dir: parent, tensorboard: false, runConfig: { phase: 'a', model: { path: 'moonshotai/Kimi-Linear-48B-A3B-Base' } } });
  assert.ok(hub.createModelCard().includes('\nbase_model: "moonshotai/Kimi-Linear-48B-A3B-Base"\n'));
  await hub.close();
  assert.equal(toYaml({ a: 'x: y', 'b c': [1, { d: null }], e: [] }), 'a: "x: y"\n"b c":\n  - 1\n  - d: null\ne: []\n');
});

test('tracker: truncateMetricsAfter supersedes later records in place; re-saving a step replaces it atomically', async () => {
  const tr = await ExperimentTracker.create({ name: 'trunc', dir: parentDir(), modelConfig: { m: 1 }, flushIntervalMs: 0, keepLast: null });
  for (let s = 1; s <= 6; s++) tr.logMetrics({ 'train/loss': s }, s);
  await tr.saveCheckpoint({ step: 3, model: weights(3) });
  await tr.saveCheckpoint({ step: 6, model: weights(6) });
  tr.truncateMetricsAfter(3);
  assert.deepEqual(tr.listCheckpoints(), [3], 'the checkpoint after the cut is superseded');
  assert.ok(fs.existsSync(path.join(tr.dir, 'checkpoints', 'superseded', 'step_000006_segment0')));
  tr.logMetrics({ 'train/loss': 40 }, 4);
  await tr.saveCheckpoint({ step: 3, model: weights(33) });
  assert.deepEqual([...((await tr.loadCheckpoint(3)).model['model.layers.0.ids'].data as Int32Array)], [33, -33]);
  assert.deepEqual(fs.readdirSync(path.join(tr.dir, 'checkpoints')).sort(), ['step_000003', 'superseded']);
  await tr.close();
  assert.deepEqual(readMetrics(tr.dir).map((r) => [r.step, r.metrics['train/loss']]), [[1, 1], [2, 2], [3, 3], [4, 40]]);
  assert.deepEqual(readScalars(path.join(tr.dir, 'logs'))['train/loss'].map((s) => s.step), [1, 2, 3, 4]);
});

test('tracker: resume cuts a torn last metrics line (crash mid-append) before appending', async () => {
  const tr = await ExperimentTracker.create({ name: 'torn', dir: parentDir(), tensorboard: false });
  tr.logMetrics({ 'train/loss': 1 }, 1);
  await tr.close('interrupted');
  fs.appendFileSync(path.join(tr.dir, 'metrics', 'metrics.jsonl'), '{"step":2,"time":"2026-');
  const again = await ExperimentTracker.resume(tr.dir, { fromStep: null });
  again.logMetrics({ 'train/loss': 0.5 }, 2);
  await again.close();
  assert.deepEqual(readMetrics(tr.dir).map((r) => r.step), [1, 2]);
  assert.match(fs.readFileSync(path.join(tr.dir, 'superseded', 'torn.jsonl'), 'utf8'), /"torn":"\{\\"step\\":2/);
});

test('tracker: without a modelConfig, checkpoints carry the run config\'s preset (configs/models/tiny.json); env secrets are never recorded', async () => {
  process.env.RECLIN_TEST_SETTING = '1';
  process.env.RECLIN_HF_TOKEN = 'hf_secret';
  const tr = await ExperimentTracker.create({ name: 'preset', dir: parentDir(), tensorboard: false });
  delete process.env.RECLIN_TEST_SETTING;
  delete process.env.RECLIN_HF_TOKEN;
  await tr.saveCheckpoint({ step: 1, model: weights(1) });
  await tr.close();
  assert.deepEqual(readJson(path.join(tr.dir, 'checkpoints', 'step_000001', 'model', 'config.json')), readJson(path.join(root, 'configs', 'models', 'tiny.json')));
  const m = readJson(path.join(tr.dir, 'experiment_metadata.json'));
  assert.equal(m.env.RECLIN_TEST_SETTING, '1');
  assert.ok(!JSON.stringify(m).includes('hf_secret'));
});
