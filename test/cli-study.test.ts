// The study's evaluations can decide: surgery with every shipped config equals the base bit for bit (and the
// after_surgery run says so, or fails), the evaluation set depends only on the task and eval_seed, every run
// records its hash, and compare warns about different sets and marks the teacher-forced metrics. Micro model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseRunConfig, readMetrics } from '../src/experiment';
import { buildSources } from '../src/cli/run-setup';
import { evalSetHash } from '../src/train';
import { runCli, repoRoot } from './cli-helpers';

let tmp: string;
const exp = (name: string) => path.join(tmp, 'experiments', name);
const cli = (args: string[]) => runCli(args, { cwd: tmp, timeoutMs: 300_000 });
const FAST = ['--model-config', 'micro.json', '--eval-examples', '8'];
const meta = (name: string) => JSON.parse(fs.readFileSync(path.join(exp(name), 'experiment_metadata.json'), 'utf8'));

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cli-study-'));
  const tiny = JSON.parse(fs.readFileSync(path.join(repoRoot, 'configs', 'models', 'tiny.json'), 'utf8'));
  const micro = { ...tiny, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 16 };
  micro.linear_attn_config = { ...tiny.linear_attn_config, num_heads: 2, head_dim: 16, kda_layers: [1], full_attn_layers: [2] };
  fs.writeFileSync(path.join(tmp, 'micro.json'), JSON.stringify(micro));
  const keepAll = JSON.parse(fs.readFileSync(path.join(repoRoot, 'configs', 'recursive_demo.json'), 'utf8'));
  fs.writeFileSync(path.join(tmp, 'keep_all.json'), JSON.stringify({ ...keepAll, cache_reset_policy: 'keep_all' }));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the evaluation set depends on the task and eval_seed only; its hash names it', () => {
  const hashOf = (over: Record<string, unknown>) => {
    const rc = parseRunConfig({ data: { train: 'synthetic:addition:2', eval_examples: 50 }, ...over });
    return evalSetHash(buildSources(rc).eval, rc.data.eval_examples);
  };
  const h = hashOf({});
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(hashOf({ seed: 123, batch_size: 3 }), h, 'training seed and batch size do not change the set');
  assert.notEqual(hashOf({ data: { train: 'synthetic:addition:2', eval_examples: 50, eval_seed: 1 } }), h);
  assert.notEqual(hashOf({ data: { train: 'synthetic:addition:2', eval_examples: 49 } }), h);
  assert.notEqual(hashOf({ data: { train: 'synthetic:addition:3', eval_examples: 50 } }), h);
});

test('after_surgery with the shipped configs passes bit for bit; a mismatch fails the run; compare warns and marks', async () => {
  const base = await cli(['run', '--experiment-name', 'base', ...FAST, '--num-steps', '2', '--batch-size', '4']);
  assert.equal(base.code, 0, base.stdout + base.stderr);
  assert.match(base.stdout, /warning: warmup_steps \(100\) >= num_steps \(2\)/);
  assert.ok(meta('base').notes.some((n: { text: string }) => /warmup_steps \(100\) >= num_steps/.test(n.text)));
  const hash = meta('base').extra.eval_set.hash;
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(meta('base').extra.eval_set.examples, 8);
  // The phase configs carry the same sidecar as after_surgery.json (chunk 128: slow to generate on a CPU).
  const shipped = (n: string) => JSON.parse(fs.readFileSync(path.join(repoRoot, 'configs', `${n}.json`), 'utf8'));
  for (const n of ['recursive_phase_a', 'recursive_phase_b', 'recursive_phase_c']) assert.deepEqual(shipped(n), shipped('after_surgery'), n);
  for (const cfg of ['after_surgery', 'recursive_phase_a_cpu', 'recursive_demo']) {
    const r = await cli(['run', '--experiment-name', `surgery_${cfg}`, ...FAST, '--phase', 'after_surgery', '--model-path', exp('base'), '--recursive-config', path.join(repoRoot, 'configs', `${cfg}.json`), '--batch-size', '3']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /after-surgery check: PASS \(chunk logits bit-identical to the base model on 8 eval examples\)/, cfg);
    assert.equal(meta(`surgery_${cfg}`).extra.eval_set.hash, hash, 'same set whatever the batch size');
    const ev = readMetrics(exp(`surgery_${cfg}`)).find((m) => 'eval/surgery_identical' in m.metrics)!.metrics;
    assert.equal(ev['eval/set_hash'], parseInt(hash.slice(0, 12), 16));
  }
  // keep_all threads the cache through the inner steps: the context holds earlier drafts, so it is not the base.
  const bad = await cli(['run', '--experiment-name', 'surgery_keep_all', ...FAST, '--phase', 'after_surgery', '--model-path', exp('base'), '--recursive-config', 'keep_all.json']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout + bad.stderr, /after-surgery check: FAIL \(\d+ chunk logits differ from the base model on 8 eval examples/);
  assert.equal(meta('surgery_keep_all').status, 'failed');
  // Another evaluation set: compare warns, and marks which metrics are fair.
  const other = await cli(['run', '--experiment-name', 'base_other_set', ...FAST, '--model-path', exp('base'), '--num-steps', '0', '--eval-seed', '5']);
  assert.equal(other.code, 0, other.stdout + other.stderr);
  assert.notEqual(meta('base_other_set').extra.eval_set.hash, hash);
  const cmp = await cli(['compare', exp('base'), exp('surgery_after_surgery'), exp('base_other_set')]);
  assert.equal(cmp.code, 0, cmp.stdout + cmp.stderr);
  assert.match(cmp.stdout, /warning: the runs were evaluated on different sets, so their eval metrics are not comparable: base, surgery_after_surgery \(set [0-9a-f]{12}\); base_other_set/);
  assert.match(cmp.stdout, /eval\/loss: teacher-forced on the clean chunk in surgery_after_surgery .*not comparable with runs without the sidecar/);
  assert.match(cmp.stdout, /eval\/exact_match: fair/);
});
