// reclin run / resume / reproduce end to end, as child processes in a temporary directory, on a micro model
// (hidden 32, two layers) so that each run takes seconds: the seed's quick-start line, Ctrl-C then resume and
// kill -9 then resume (both bit-identical to a straight run), reproduce, upload at the end, bad flags and configs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readMetrics } from '../src/experiment';
import { sha256File } from '../src/format';
import { runCli, startCli, waitFor, repoRoot } from './cli-helpers';
import { startHubServer } from './hub-server';
import { deviceProblem } from '../src/native';

let tmp: string;
const exp = () => path.join(tmp, 'experiments');
// A small evaluation (one batch, generation on that batch only) and a short warmup keep every run to seconds.
const FAST = ['--run-config', 'fast.json', '--model-config', 'micro.json'];

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cli-run-'));
  const tiny = JSON.parse(fs.readFileSync(path.join(repoRoot, 'configs', 'models', 'tiny.json'), 'utf8'));
  const micro = { ...tiny, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 16 };
  micro.linear_attn_config = { ...tiny.linear_attn_config, num_heads: 2, head_dim: 16, kda_layers: [1], full_attn_layers: [2] };
  fs.writeFileSync(path.join(tmp, 'micro.json'), JSON.stringify(micro));
  fs.writeFileSync(path.join(tmp, 'fast.json'), JSON.stringify({ data: { eval_examples: 4 }, schedule: { warmup_steps: 2 } }));
  // The seed's quick start names configs/recursive_phase_a.json relative to the working directory.
  fs.cpSync(path.join(repoRoot, 'configs'), path.join(tmp, 'configs'), { recursive: true });
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[], env?: Record<string, string | undefined>) => runCli(args, { cwd: tmp, env });

/** Metric records without timing (perf/*, time, segment): what must match bit for bit. */
function history(dir: string): { step: number; metrics: Record<string, number> }[] {
  return readMetrics(dir)
    .map((r) => ({ step: r.step, metrics: Object.fromEntries(Object.entries(r.metrics).filter(([k]) => !k.startsWith('perf/'))) }))
    .filter((r) => Object.keys(r.metrics).length > 0);
}

function finalWeights(dir: string, step: number): string {
  return sha256File(path.join(dir, 'checkpoints', `step_${String(step).padStart(6, '0')}`, 'model', 'model.safetensors'));
}

test("the seed's quick-start line runs as it reads (base trained here, phase a on it)", async () => {
  const base = await cli(['run', '--experiment-name', 'base_001', ...FAST, '--num-steps', '4', '--batch-size', '4', '--save-interval', '2']);
  assert.equal(base.code, 0, base.stdout + base.stderr);
  assert.match(base.stdout, /completed .*base_001 at step 4/);
  // From the seed's guide, `python run_experiment.py` -> `reclin run`, with a short step count and a small evaluation.
  const a = await cli([
    'run', '--experiment-name', 'baseline_phase_a_001', '--description', 'First Phase A experiment',
    '--model-path', 'experiments/base_001', '--recursive-config', 'configs/recursive_phase_a.json', '--phase', 'a',
    '--num-steps', '1', '--batch-size', '2', '--save-interval', '2000', '--run-config', 'fast.json',
  ]);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  const dir = path.join(exp(), 'baseline_phase_a_001');
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'experiment_metadata.json'), 'utf8'));
  assert.equal(meta.status, 'completed');
  assert.equal(meta.phase, 'a');
  assert.equal(meta.description, 'First Phase A experiment');
  assert.match(meta.extra.model_source, /base_001 \(checkpoint step 4\)/);
  assert.match(meta.command.line, /run --experiment-name baseline_phase_a_001/);
  for (const f of ['README.md', 'run_config.json', 'recursive_config.json', 'metrics/metrics.jsonl', 'checkpoints/step_000001/model/model.safetensors']) assert.ok(fs.existsSync(path.join(dir, f)), f);
  assert.ok(fs.readdirSync(path.join(dir, 'logs')).some((f) => f.startsWith('events.out.tfevents.')));
  const rec = JSON.parse(fs.readFileSync(path.join(dir, 'recursive_config.json'), 'utf8'));
  assert.equal(rec.recursive_enabled, true);
  assert.ok(history(dir).some((r) => 'eval/exact_match' in r.metrics));
});

test('Ctrl-C checkpoints and marks the run interrupted; kill -9 leaves it stale; both resume bit-identical to a straight run', async () => {
  const args = (name: string) => ['run', '--experiment-name', name, ...FAST, '--num-steps', '24', '--batch-size', '4', '--save-interval', '3', '--log-interval', '2', '--eval-interval', '1000'];
  const straight = await cli(args('straight'));
  assert.equal(straight.code, 0, straight.stderr);

  // Ctrl-C once the first checkpoint exists.
  const intr = startCli(args('ctrlc'), { cwd: tmp });
  await waitFor(() => fs.existsSync(path.join(exp(), 'ctrlc', 'checkpoints', 'step_000003')), 'the first checkpoint');
  intr.child.kill('SIGINT');
  const ri = await intr.done;
  // (If the run had already finished, the test proves nothing: it must stop early.)
  assert.equal(ri.code, 130, ri.stdout + ri.stderr);
  assert.match(ri.stdout, /interrupted at step (\d+); checkpoint saved\. Resume with: reclin resume /);
  const stoppedAt = Number(/interrupted at step (\d+)/.exec(ri.stdout)![1]);
  assert.ok(stoppedAt < 24);
  const ctrlc = path.join(exp(), 'ctrlc');
  assert.equal(JSON.parse(fs.readFileSync(path.join(ctrlc, 'status.json'), 'utf8')).status, 'interrupted');
  assert.ok(fs.existsSync(path.join(ctrlc, 'checkpoints', `step_${String(stoppedAt).padStart(6, '0')}`)), 'a checkpoint at the interrupted step');

  // kill -9 once the first checkpoint exists.
  const killed = startCli(args('killed'), { cwd: tmp });
  await waitFor(() => fs.existsSync(path.join(exp(), 'killed', 'checkpoints', 'step_000003')), 'the first checkpoint');
  killed.child.kill('SIGKILL');
  await killed.done;
  const list = await cli(['list']);
  assert.match(list.stdout, /\nkilled\s+STALE/);

  const [r1, r2] = [await cli(['resume', ctrlc]), await cli(['resume', path.join(exp(), 'killed')])];
  for (const r of [r1, r2]) {
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /resumed .* from checkpoint step \d+/);
  }
  const want = history(path.join(exp(), 'straight'));
  for (const name of ['ctrlc', 'killed']) {
    const dir = path.join(exp(), name);
    assert.deepEqual(history(dir), want, `${name}: metrics after resume equal the straight run's (no duplicates)`);
    assert.equal(finalWeights(dir, 24), finalWeights(path.join(exp(), 'straight'), 24), `${name}: final weights`);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'experiment_metadata.json'), 'utf8'));
    assert.equal(meta.status, 'completed');
    assert.equal(meta.segments.length, 2);
  }
});

test('reclin reproduce re-runs from the saved configs and reports every metric identical', async () => {
  const src = await cli(['run', '--experiment-name', 'orig', ...FAST, '--num-steps', '4', '--batch-size', '4', '--eval-interval', '2']);
  assert.equal(src.code, 0, src.stderr);
  const r = await cli(['reproduce', path.join(exp(), 'orig')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\ntrain\/loss\s+match\s+identical at \d+ step\(s\)/);
  assert.match(r.stdout, /\neval\/loss\s+match\s+identical at 2 step\(s\)/);
  assert.match(r.stdout, /\nweights\s+match/);
  assert.match(r.stdout, /REPRODUCED: all \d+ metrics and the final weights are bit-identical/);
  assert.ok(fs.existsSync(path.join(exp(), 'orig_reproduce', 'experiment_metadata.json')));
});

test('reclin run --hf-repo uploads at the end; the token is recorded nowhere', async () => {
  const hub = await startHubServer();
  try {
    const r = await cli(['run', '--experiment-name', 'up', ...FAST, '--num-steps', '2', '--batch-size', '2', '--hf-repo', 'reclin-test/up', '--hf-token', hub.token, '--hub-url', hub.url]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /uploaded to http:\/\/127\.0\.0\.1:\d+\/reclin-test\/up \(commit [0-9a-f]{40}\)/);
    const repo = hub.repos.get('reclin-test/up')!;
    assert.ok(repo.files.has('model.safetensors') && repo.files.has('README.md'));
    assert.ok(!r.stdout.includes(hub.token) && !r.stderr.includes(hub.token));
    const dir = path.join(exp(), 'up');
    for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) assert.ok(!fs.readFileSync(path.join(e.parentPath, e.name)).includes(hub.token), `${e.name} holds the token`);
    }
    assert.match(JSON.parse(fs.readFileSync(path.join(dir, 'experiment_metadata.json'), 'utf8')).command.line, /--hf-token '?<redacted>/);
    for (const [, b] of repo.files) assert.ok(!b.includes(hub.token), 'uploaded file holds the token');
  } finally {
    await hub.close();
  }
});

test('bad flags and configs: a clear message naming the flag, exit 1, nothing written', async () => {
  const bad = path.join(tmp, 'bad_recursive.json');
  fs.writeFileSync(bad, JSON.stringify({ recursive_enabled: true, commit_threshold: 2, chunk_widht: 4 }));
  const cases: [string[], RegExp][] = [
    [['run', '--num-steps', '-3'], /option '--num-steps <n>' argument '-3' is invalid\. Expected an integer >= 0\./],
    [['run', '--lr', 'fast'], /option '--lr <lr>' argument 'fast' is invalid\. Expected a finite number > 0\./],
    [['run', '--phase', 'd'], /option '--phase <phase>' argument 'd' is invalid\. Allowed choices are baseline, after_surgery, a, b, c\./],
    [['run', '--device', 'tpu'], /argument 'tpu' is invalid\. Allowed choices are cpu, cuda\./],
    ...(deviceProblem('cuda') === null ? [] : [[['run', '--device', 'cuda'], /^reclin: --device: cuda cannot train here: reclin runs its CPU build: /] as [string[], RegExp]]),
    [['run', '--precision', 'bf16'], /^reclin: --precision: bf16 cannot run on --device cpu \(the CPU kernels compute in fp32\); leave --precision out or give fp32/],
    [['run', '--precision', 'fp16'], /argument 'fp16' is invalid\. Allowed choices are bf16, fp32\./],
    [['run', '--best-metric', 'eval/loss:up'], /option '--best-metric <name\[:min\|max\]>' argument 'eval\/loss:up' is invalid/],
    [['run', '--phase', 'a'], /model\.path: got null, allowed: a model or experiment directory \(phase "a" starts from a trained base model\) \(flag --model-path\)/],
    [['run', '--phase', 'a', '--model-path', 'nowhere'], /^reclin: --model-path: .*nowhere does not exist/],
    [['run', '--phase', 'a', '--model-path', '.', '--recursive-config', 'bad_recursive.json'], /bad_recursive\.json: invalid recursive config \(2 problems\):\n {2}commit_threshold: got 2, allowed: .*\n {2}chunk_widht: unknown field, got 4 \(did you mean "chunk_width"\?\)/],
    [['run', '--recursive-config', 'configs/recursive_phase_a.json'], /^reclin: --recursive-config: phase baseline trains the base model and needs recursive_enabled: false, but .*recursive_phase_a\.json has recursive_enabled: true/],
    [['run', '--data', 'synthetic:add'], /^reclin: --data: expected synthetic:addition\[:digits\]/],
    [['run', '--data', 'synthetic:addition', '--data-path', 'x.txt'], /^reclin: --data and --data-path both set the training data/],
    [['run', '--data-path', 'missing.txt'], /^reclin: --data-path: .*missing\.txt does not exist/],
    [['run', '--experiment-name', '../escape'], /^reclin: --experiment-name: expected a folder name/],
    [['run', '--hf-repo', 'a/b'], /^reclin: --hf-repo: uploading at the end needs a token/],
    [['run', '--hf-repo', 'no-namespace', '--hf-token', 'hf_x'], /^reclin: --hf-repo: expected "namespace\/name"/],
    [['run', '--hf-repo', 'a/b', '--hf-token', 'secret'], /^reclin: --hf-token: a Hugging Face access token starts with 'hf_'/],
    [['run', '--run-config', 'nope.json'], /^reclin: --run-config: nope\.json cannot be read/],
    [['resume', path.join(tmp, 'configs')], /^reclin: dir: .*configs is not an experiment directory/],
    [['reproduce', path.join(tmp, 'nowhere')], /^reclin: dir: .*nowhere does not exist/],
  ];
  const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
  for (const f of ['bad_recursive.json', 'configs']) fs.cpSync(path.join(tmp, f), path.join(empty, f), { recursive: true });
  const results = await Promise.all(cases.map(([args]) => runCli(args, { cwd: empty, env: { HF_TOKEN: undefined } })));
  results.forEach((r, i) => {
    assert.equal(r.code, 1, `${cases[i][0].join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, cases[i][1], cases[i][0].join(' '));
  });
  assert.ok(!fs.existsSync(path.join(empty, 'experiments')), 'nothing written');
});
