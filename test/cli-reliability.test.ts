// Regression tests for the reliability classes of issue 9 that live in the CLI and the run record: the model's
// own config in fine-tuned checkpoints (through upload and loading), text data on defaults, TensorBoard points
// after kill -9, validation before anything is written, compare --html targets, signals during a long
// evaluation, and the smaller ones (resume uploads, card and the lock, malformed records, credentials in URLs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readMetrics } from '../src/experiment';
import { processStartTime } from '../src/experiment/lock';
import { readScalars } from '../src/tensorboard';
import { KimiLinearLM, loadModel, loadModelConfig, saveModel, weightFiles } from '../src/nn';
import { runCli, startCli, waitFor, repoRoot } from './cli-helpers';
import { startHubServer } from './hub-server';
import { cliInProcess } from './cli-inprocess';

let tmp: string;
const exp = () => path.join(tmp, 'experiments');
const FAST = ['--run-config', 'fast.json'];
const MICRO = ['--model-config', 'micro.json'];

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cli-rel-'));
  const tiny = JSON.parse(fs.readFileSync(path.join(repoRoot, 'configs', 'models', 'tiny.json'), 'utf8'));
  const micro = { ...tiny, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 16 };
  micro.linear_attn_config = { ...tiny.linear_attn_config, num_heads: 2, head_dim: 16, kda_layers: [1], full_attn_layers: [2] };
  fs.writeFileSync(path.join(tmp, 'micro.json'), JSON.stringify(micro));
  fs.writeFileSync(path.join(tmp, 'fast.json'), JSON.stringify({ data: { eval_examples: 2 }, schedule: { warmup_steps: 2 } }));
  // A small sidecar (one inner step, narrow chunk) keeps phase-a runs and their evaluation to seconds.
  fs.writeFileSync(path.join(tmp, 'small_a.json'), JSON.stringify({ recursive_enabled: true, chunk_width: 4, max_chunk_len: 4, max_inner_steps: 1, d_state: 16, gate_hidden: 16 }));
  const words = 'the quick brown fox jumps over the lazy dog while a recursive model refines its chunk ';
  fs.writeFileSync(path.join(tmp, 'corpus.txt'), words.repeat(60));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[], env?: Record<string, string | undefined>) => runCli(args, { cwd: tmp, env });
const readJson = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));
const runs = () => (fs.existsSync(exp()) ? fs.readdirSync(exp()).sort() : []);

test('a fine-tuned run declares its base model\'s config; a phase run is the base of another; the upload loads; resume needs neither the base nor a second --hf-repo', async () => {
  const base = await cli(['run', '--experiment-name', 'base', ...FAST, ...MICRO, '--num-steps', '2', '--batch-size', '2']);
  assert.equal(base.code, 0, base.stdout + base.stderr);
  const a = await cli(['run', '--experiment-name', 'pa', ...FAST, '--phase', 'a', '--recursive-config', 'small_a.json', '--model-path', 'experiments/base', '--num-steps', '1', '--batch-size', '2']);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  const ck = path.join(exp(), 'pa', 'checkpoints', 'step_000001', 'model');
  assert.equal(readJson(path.join(ck, 'config.json')).hidden_size, 32, 'the checkpoint declares the base model\'s width, not the tiny preset\'s');
  assert.ok(fs.existsSync(path.join(ck, 'sidecar.safetensors')), 'the sidecar is kept beside the base weights');
  loadModel(ck).dispose();
  assert.equal(readJson(path.join(exp(), 'pa', 'base_model', 'config.json')).hidden_size, 32);

  const hub = await startHubServer();
  try {
    const endpoint = hub.url.replace('http://', 'http://someone:s3cret@');
    const a2 = await cli(['run', '--experiment-name', 'pa2', ...FAST, '--phase', 'a', '--recursive-config', 'small_a.json', '--model-path', 'experiments/pa', '--num-steps', '2', '--batch-size', '2', '--save-interval', '1', '--eval-interval', '1000', '--hf-repo', 'reclin-test/pa2', '--hf-token', hub.token, '--hub-url', hub.url], { HF_ENDPOINT: endpoint });
    assert.equal(a2.code, 0, a2.stdout + a2.stderr);
    const dir = path.join(exp(), 'pa2');
    const meta = readJson(path.join(dir, 'experiment_metadata.json'));
    assert.equal(meta.env.HF_ENDPOINT, `${hub.url}/`, 'credentials in HF_ENDPOINT are not recorded');
    assert.ok(!fs.readFileSync(path.join(dir, 'experiment_metadata.json'), 'utf8').includes('s3cret'));
    const repo = hub.repos.get('reclin-test/pa2')!;
    const got = path.join(tmp, 'downloaded');
    fs.mkdirSync(got);
    for (const f of ['config.json', 'model.safetensors']) fs.writeFileSync(path.join(got, f), repo.files.get(f)!);
    const m = loadModel(got);
    assert.equal(m.config.hidden_size, 32);
    m.dispose();

    // Killed before its last checkpoint, with the base run moved away: resume continues from the run's own
    // copy of the base model and uploads at the end, as the original command asked.
    fs.rmSync(path.join(dir, 'checkpoints', 'step_000002'), { recursive: true });
    fs.renameSync(path.join(exp(), 'pa'), path.join(tmp, 'pa-moved'));
    const commits = repo.commits.length;
    const r = await cli(['resume', dir], { HF_TOKEN: undefined });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /uploads to reclin-test\/pa2 when it completes.*HF_TOKEN/);
    assert.equal(readJson(path.join(dir, 'status.json')).status, 'completed', 'a refused resume changes nothing');
    const r2 = await cli(['resume', dir], { HF_TOKEN: hub.token, HF_ENDPOINT: undefined });
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    assert.match(r2.stdout, /resumed .* from checkpoint step 1/);
    assert.match(r2.stdout, /uploaded to http:\/\/127\.0\.0\.1:\d+\/reclin-test\/pa2/);
    assert.equal(repo.commits.length, commits + 1);
  } finally {
    await hub.close();
  }
});

test('text data works on defaults; a seq_len/chunk_width combination without a prefix is refused before writing', async () => {
  const t = await cli(['run', '--experiment-name', 'text', ...FAST, ...MICRO, '--data-path', 'corpus.txt', '--num-steps', '2', '--batch-size', '2']);
  assert.equal(t.code, 0, t.stdout + t.stderr);
  assert.ok(readMetrics(path.join(exp(), 'text')).some((r) => 'eval/loss' in r.metrics));
  fs.writeFileSync(path.join(tmp, 'seq128.json'), JSON.stringify({ data: { seq_len: 128, eval_examples: 2 } }));
  fs.writeFileSync(path.join(tmp, 'short.jsonl'), `${JSON.stringify({ text: 'a long enough line '.repeat(20) })}\n${JSON.stringify({ text: 'short' })}\n`.repeat(3));
  const before = runs();
  for (const args of [
    ['--data-path', 'corpus.txt', '--run-config', 'seq128.json'],
    ['--data-path', 'short.jsonl'],
  ]) {
    const r = await cliInProcess(['run', ...MICRO, '--num-steps', '1', ...args], { cwd: tmp });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /data\.seq_len \/ chunk_width: \d+ of \d+ evaluation examples .* no room for a prefix/);
  }
  assert.deepEqual(runs(), before);
});

test('an evaluation that fails keeps the steps trained: they are checkpointed and recorded before the run ends', async () => {
  const { Trainer } = await import('../src/train/trainer');
  const { startRun } = await import('../src/cli/runner');
  const { parseRunConfig, parseRecursiveConfig } = await import('../src/experiment');
  const proto = Trainer.prototype as unknown as { evaluation: (...a: unknown[]) => Generator };
  const original = proto.evaluation;
  proto.evaluation = function* (this: { step: number }) {
    if (this.step >= 3) throw new Error('evaluation exploded');
    return yield* original.call(this);
  };
  try {
    const rc = parseRunConfig({ num_steps: 6, batch_size: 2, model: { config: path.join(tmp, 'micro.json') }, data: { eval_examples: 2 }, intervals: { log: 1, eval: 3, save: 100 } });
    const out = await startRun({ name: 'evalfail', parentDir: exp(), description: '', runConfig: rc, recursiveConfig: parseRecursiveConfig({}), recursiveConfigPath: null, runConfigPath: null, command: ['test'], say: () => {}, progress: { update() {}, evaluation() {}, line() {}, done() {} } as never });
    assert.equal(out.status, 'failed');
    assert.match(out.error!.message, /evaluation exploded/);
    const dir = path.join(exp(), 'evalfail');
    assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'step_000003')), 'the three trained steps are saved');
    const meta = readJson(path.join(dir, 'experiment_metadata.json'));
    assert.match(meta.issues.at(-1).text, /failed after step 3 \(evaluation exploded\); the steps trained so far were saved as checkpoint 3/);
    assert.equal(readJson(path.join(dir, 'status.json')).status, 'failed');
    assert.ok(!fs.existsSync(path.join(dir, '.lock')));
  } finally {
    proto.evaluation = original;
  }
});

test('kill -9 right after a checkpoint appears: TensorBoard holds every step it covers; resume re-logs points lost from the event files', async () => {
  const args = ['run', '--experiment-name', 'tb', ...FAST, ...MICRO, '--num-steps', '20', '--batch-size', '2', '--save-interval', '3', '--log-interval', '1', '--eval-interval', '1000'];
  const run = startCli(args, { cwd: tmp });
  const dir = path.join(exp(), 'tb');
  await waitFor(() => fs.existsSync(path.join(dir, 'checkpoints', 'step_000003')), 'the first checkpoint', 90_000);
  run.child.kill('SIGKILL');
  await run.done;
  const ckSteps = fs.readdirSync(path.join(dir, 'checkpoints')).filter((n) => n.startsWith('step_')).map((n) => Number(n.slice(5)));
  const covered = Math.max(...ckSteps);
  const tbSteps = new Set((readScalars(path.join(dir, 'logs'))['train/loss'] ?? []).map((p) => p.step));
  for (let s = 1; s <= covered; s++) assert.ok(tbSteps.has(s), `step ${s} (covered by checkpoint ${covered}) is in the event file`);
  // Lose the event files altogether (as a crash before the fix did): resume writes them again from metrics.jsonl.
  for (const f of fs.readdirSync(path.join(dir, 'logs'))) fs.rmSync(path.join(dir, 'logs', f));
  const r = await cli(['resume', dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const steps = (readScalars(path.join(dir, 'logs'))['train/loss'] ?? []).map((p) => p.step).sort((x, y) => x - y);
  assert.deepEqual(steps, Array.from({ length: 20 }, (_, i) => i + 1), 'every step once');
  assert.match(readJson(path.join(dir, 'experiment_metadata.json')).issues.map((i: { text: string }) => i.text).join('\n'), /missing from the TensorBoard events .* written again/);
});

test('bad inputs of every class fail with the field, the value and what is allowed, and create nothing', async () => {
  const w = (name: string, v: unknown) => fs.writeFileSync(path.join(tmp, name), typeof v === 'string' ? v : JSON.stringify(v));
  const micro = readJson(path.join(tmp, 'micro.json'));
  w('beta1.json', { optimizer: { beta1: 1 } });
  w('beta2.json', { optimizer: { beta2: 1 } });
  w('vocab.json', { ...micro, vocab_size: 100 });
  w('init.json', { ...micro, initializer_range: 1e30 });
  w('layers.json', { recursive_enabled: true, layers_to_refine: [0, 5] });
  w('chunk.json', { recursive_enabled: true, chunk_width: 1e9 });
  w('dstate.json', { recursive_enabled: true, d_state: 1e8 });
  w('inner.json', { recursive_enabled: true, max_inner_steps: 1e6 });
  w('proto.json', '{"__proto__": {"x": 1}, "seed": 1}');
  w('seq8.json', { data: { seq_len: 8 } });
  // Garbage --model-path directories.
  const g = (name: string, files: Record<string, string | Buffer | null>) => {
    const d = path.join(tmp, 'garbage', name);
    fs.mkdirSync(d, { recursive: true });
    for (const [f, c] of Object.entries(files)) if (c === null) fs.mkdirSync(path.join(d, f)); else fs.writeFileSync(path.join(d, f), c);
    return d;
  };
  const weights = fs.readFileSync(path.join(exp(), 'base', 'checkpoints', 'step_000002', 'model', 'model.safetensors'));
  const cases: [string, string[], RegExp, Record<string, string>?][] = [
    ['empty model dir', ['--phase', 'a', '--model-path', g('empty', {})], /--model-path: .* is neither a model directory/],
    ['config.json not JSON', ['--phase', 'a', '--model-path', g('badjson', { 'config.json': '{"hidden', 'model.safetensors': weights })], /--model-path .*config\.json.*not valid JSON/],
    ['config.json a folder', ['--phase', 'a', '--model-path', g('cfgdir', { 'config.json': null, 'model.safetensors': weights })], /--model-path .*config\.json/],
    ['weights garbage', ['--phase', 'a', '--model-path', g('badweights', { 'config.json': JSON.stringify(micro), 'model.safetensors': Buffer.from('not a safetensors file at all') })], /--model-path: .*model\.safetensors/],
    ['weights of another shape', ['--phase', 'a', '--model-path', g('shape', { 'config.json': JSON.stringify({ ...micro, hidden_size: 48 }), 'model.safetensors': weights })], /--model-path: .*has shape \[[\d,]+\], the model expects \[[\d,]+\]/],
    ['truncated experiment metadata', ['--phase', 'a', '--model-path', g('meta', { 'experiment_metadata.json': '{"id": "x', checkpoints: null })], /--model-path: .*experiment_metadata\.json|no complete checkpoint/],
    ['beta1 = 1', ['--run-config', 'beta1.json'], /optimizer\.beta1: got 1, allowed: a number in \[0, 1\)/],
    ['beta2 = 1', ['--run-config', 'beta2.json'], /optimizer\.beta2: got 1, allowed: a number in \[0, 1\)/],
    ['vocab_size below the tokenizer', ['--model-config', 'vocab.json'], /vocab_size is 100, allowed: >= 264/],
    ['initializer_range 1e30', ['--model-config', 'init.json'], /initializer_range is 1e\+30, allowed: a number in \(0, 1\]/],
    ['layers_to_refine beyond the model', ['--phase', 'a', '--model-path', 'experiments/base', '--recursive-config', 'layers.json'], /layers_to_refine has \[5\], allowed: 0-based layer indices 0\.\.1 \(the model has 2 layers\)/],
    ['--lr 1e308', ['--lr', '1e308'], /optimizer\.lr: got 1e\+308, allowed: a number in \(0, 10\] \(flag --lr\)/],
    ['chunk_width 1e9', ['--phase', 'a', '--model-path', 'experiments/base', '--recursive-config', 'chunk.json'], /chunk_width: got 1000000000, allowed: an integer in \[1, 65536\]/],
    ['d_state 1e8', ['--phase', 'a', '--model-path', 'experiments/base', '--recursive-config', 'dstate.json'], /d_state: got 100000000, allowed: an integer in \[1, 65536\]/],
    ['max_inner_steps 1e6', ['--phase', 'a', '--model-path', 'experiments/base', '--recursive-config', 'inner.json'], /max_inner_steps: got 1000000, allowed: an integer in \[1, 1024\]/],
    ['unknown --best-metric', ['--best-metric', 'eval/nope'], /--best-metric \(checkpoint\.best_metric\): got "eval\/nope", allowed for this run: eval\/loss, /],
    ['exact match on text', ['--data-path', 'corpus.txt', '--best-metric', 'eval/exact_match:max'], /needs evaluation examples with answers; this data has none/],
    ['memory beyond the machine', ['--batch-size', '64'], /memory: the run needs about .* \(model weights: .*activations \(batch_size 64 x data\.seq_len 256\).*allowed: at most this machine's .* \(RECLIN_MEMORY_LIMIT\)/, { RECLIN_MEMORY_LIMIT: '1000000' }],
    ['__proto__ key', ['--run-config', 'proto.json'], /__proto__: unknown field/],
    ['synthetic longer than seq_len', ['--run-config', 'seq8.json'], /data\.seq_len: got 8, but training example 0 of task:addition\S* has \d+ ids/],
  ];
  const before = runs();
  for (const [what, args, re, env] of cases) {
    const r = await cliInProcess(['run', ...MICRO, '--num-steps', '1', ...args], { cwd: tmp, env });
    assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, what);
    assert.ok(!r.stderr.includes('[object Object]'), `${what}: ${r.stderr}`);
    assert.deepEqual(runs(), before, `${what}: nothing is created`);
  }
  assert.ok(!fs.readdirSync(exp()).some((n) => n.startsWith('.')), 'no temporary run folder is left behind');
});

test('compare --html replaces only a regular file or creates one; links, folders, devices and fds are refused', async () => {
  const dirs = [path.join(exp(), 'base'), path.join(exp(), 'text')];
  fs.writeFileSync(path.join(tmp, 'target.html'), 'old');
  fs.symlinkSync(path.join(tmp, 'target.html'), path.join(tmp, 'link.html'));
  for (const [target, re] of [
    [path.join(tmp, 'link.html'), /is a symbolic link/],
    [tmp, /is a directory/],
    ['/dev/null', /is a device/],
    ['/proc/self/fd/1', /is a symbolic link/],
    [path.join(tmp, 'no', 'such', 'x.html'), /does not exist or is not a folder/],
  ] as const) {
    const r = await cliInProcess(['compare', ...dirs, '--html', target], { cwd: tmp });
    assert.equal(r.code, 1, `${target}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, target);
  }
  assert.equal(fs.readFileSync(path.join(tmp, 'target.html'), 'utf8'), 'old');
  assert.ok(fs.lstatSync(path.join(tmp, 'link.html')).isSymbolicLink());
  assert.ok(!fs.readdirSync(tmp).some((n) => n.includes('.tmp-')), 'no temp file left');
  const ok = await cliInProcess(['compare', ...dirs, '--html', 'target.html'], { cwd: tmp });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(fs.readFileSync(path.join(tmp, 'target.html'), 'utf8'), /<html/i);
});

test('SIGTERM during a long evaluation stops the run within seconds; status says it is evaluating meanwhile', async () => {
  fs.writeFileSync(path.join(tmp, 'longeval.json'), JSON.stringify({ data: { eval_examples: 10000000 }, schedule: { warmup_steps: 1 } }));
  const dir = path.join(exp(), 'longeval');
  const run = startCli(['run', '--experiment-name', 'longeval', '--run-config', 'longeval.json', ...MICRO, '--num-steps', '4', '--batch-size', '1', '--eval-interval', '2', '--save-interval', '100'], { cwd: tmp });
  await waitFor(() => /evaluating at step 2/.test(fs.existsSync(path.join(dir, 'status.json')) ? fs.readFileSync(path.join(dir, 'status.json'), 'utf8') : ''), 'the evaluation to start', 90_000);
  const t0 = Date.now();
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.ok(Date.now() - t0 < 15_000, `stopped after ${Date.now() - t0} ms`);
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.equal(readJson(path.join(dir, 'status.json')).status, 'interrupted');
  assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'step_000002')), 'the trained steps are checkpointed');
  assert.match(readJson(path.join(dir, 'experiment_metadata.json')).notes.map((n: { text: string }) => n.text).join('\n'), /evaluation at step 2 stopped by a signal/);
});

test('records: card refuses a locked run; a malformed metrics line fails resume before training; truncated metadata and a .lock folder are named', async () => {
  const dir = path.join(exp(), 'text');
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), proc_start: processStartTime(process.pid), acquired_at: new Date().toISOString() }));
  const card = await cliInProcess(['card', dir], { cwd: tmp });
  assert.equal(card.code, 1);
  assert.match(card.stderr, /is locked by pid \d+/);
  assert.equal(fs.readFileSync(path.join(dir, 'README.md'), 'utf8'), readme);
  fs.rmSync(path.join(dir, '.lock'));

  fs.mkdirSync(path.join(dir, '.lock'));
  const lockDir = await cliInProcess(['resume', dir], { cwd: tmp });
  assert.equal(lockDir.code, 1);
  assert.match(lockDir.stderr, /\.lock is a directory, not a lock file/);
  fs.rmdirSync(path.join(dir, '.lock'));

  const metrics = path.join(dir, 'metrics', 'metrics.jsonl');
  const good = fs.readFileSync(metrics, 'utf8');
  const lines = good.split('\n');
  lines.splice(1, 0, '{"step": 1, "metrics": ');
  fs.writeFileSync(metrics, lines.join('\n'));
  const status = fs.readFileSync(path.join(dir, 'status.json'), 'utf8');
  const bad = await cliInProcess(['resume', dir], { cwd: tmp });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /metrics\.jsonl:2: not a JSON line/);
  assert.equal(fs.readFileSync(path.join(dir, 'status.json'), 'utf8'), status, 'no running status is left behind');
  assert.ok(!fs.existsSync(path.join(dir, '.lock')));
  fs.writeFileSync(metrics, good);

  const metaFile = path.join(dir, 'experiment_metadata.json');
  const meta = fs.readFileSync(metaFile, 'utf8');
  fs.writeFileSync(metaFile, meta.slice(0, 100));
  const trunc = await cliInProcess(['resume', dir], { cwd: tmp });
  assert.equal(trunc.code, 1);
  assert.ok(trunc.stderr.includes(`${metaFile}: not readable JSON, the file is truncated or damaged`), trunc.stderr);
  fs.writeFileSync(metaFile, meta);
});

test('a sharded checkpoint as published is a base: the run keeps its index and shards, and resumes with the original moved away', async () => {
  const micro = loadModelConfig(path.join(tmp, 'micro.json'));
  const src = path.join(tmp, 'sharded');
  const m = new KimiLinearLM(micro, { seed: 5 });
  saveModel(m, src, { dtype: 'bfloat16', maxShardBytes: 40_000 });
  m.dispose();
  const files = weightFiles(src)!;
  assert.ok(files.length >= 3 && files[0] === 'model.safetensors.index.json', `sharded: ${files.join(', ')}`);
  const r = await cli(['run', '--experiment-name', 'from_shards', ...FAST, '--model-path', 'sharded', '--num-steps', '2', '--batch-size', '2', '--save-interval', '1', '--eval-interval', '1000']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const dir = path.join(exp(), 'from_shards');
  for (const f of files) assert.ok(fs.readFileSync(path.join(dir, 'base_model', f)).equals(fs.readFileSync(path.join(src, f))), `base_model/${f} is the base's`);
  // Killed before its last checkpoint, with the base moved away: resume reads the run's own shards.
  fs.rmSync(path.join(dir, 'checkpoints', 'step_000002'), { recursive: true });
  fs.renameSync(src, path.join(tmp, 'sharded-moved'));
  const again = await cli(['resume', dir]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'step_000002', 'model', 'model.safetensors')));
  // Phases a and b start from the same bf16 shards as a frozen base (its weights stay bf16 in memory).
  for (const phase of ['a', 'b']) {
    const p = await cli(['run', '--experiment-name', `from_shards_${phase}`, ...FAST, '--phase', phase, '--recursive-config', 'small_a.json', '--model-path', 'sharded-moved', '--num-steps', '2', '--batch-size', '2', '--eval-interval', '1000']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  }
});
