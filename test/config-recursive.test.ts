// Config schemas: the shipped configs load; every rule has a failing example whose exact message is checked;
// a file with several problems lists every one of them, one line each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRecursiveConfig, loadRunConfig, parseRecursiveConfig, parseRunConfig, ConfigError } from '../src/experiment/config';

const root = path.resolve(__dirname, '..');
// The allowed field list comes from an independent source: the shipped configs/after_surgery.json carries every field
// of the seed's RecursiveConfig (and the test below checks that each shipped file parses).
const FIELDS = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'configs', 'after_surgery.json'), 'utf8'))).join(', ');

function problemsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${(e as Error).name}: ${(e as Error).message}`);
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

test('config: the five shipped recursive configs load; only baseline has recursion off; defaults equal the prototype', () => {
  for (const name of ['baseline', 'after_surgery', 'recursive_phase_a', 'recursive_phase_b', 'recursive_phase_c']) {
    const c = loadRecursiveConfig(path.join(root, 'configs', `${name}.json`));
    assert.equal(c.recursive_enabled, name !== 'baseline', name);
    const { recursive_enabled: _, ...rest } = c;
    const { recursive_enabled: __, ...defaults } = parseRecursiveConfig({});
    assert.deepEqual(rest, defaults, `${name} carries the prototype's values`);
  }
  assert.deepEqual(parseRecursiveConfig({}), {
    recursive_enabled: false, chunk_width: 128, max_inner_steps: 4, commit_threshold: 0.7, min_commit_threshold: 0.3,
    layers_to_refine: 'all', use_latent_token: true, d_state: 512, gate_hidden: 1024, max_chunk_len: 128, corruption_rate: 0.3,
    corruption_schedule: 'linear', corruption_rate_final: 0.1, lambda_final: 1.0, lambda_masked: 0.5, lambda_halt: 0.5,
    lambda_len: 0.05, lambda_ponder: 0.01, lambda_stability: 0.01, cache_reset_policy: 'keep_kda_recurrent_reset_mla',
    enable_length_head: true, use_soft_tokens: false,
  });
  assert.deepEqual(parseRecursiveConfig({ layers_to_refine: [0, 3] }).layers_to_refine, [0, 3]);
});

// Each rule: an input and the exact problem line it must produce.
const RECURSIVE_RULES: [string, Record<string, unknown>, string][] = [
  ['recursive_enabled is a boolean', { recursive_enabled: 'yes' }, 'recursive_enabled: got "yes" (a string), allowed: true or false'],
  ['chunk_width is a positive integer', { chunk_width: 0 }, 'chunk_width: got 0, allowed: an integer in [1, 65536]'],
  ['chunk_width is a number, not a string', { chunk_width: '128' }, 'chunk_width: got "128" (a string), allowed: an integer in [1, 65536]'],
  ['max_inner_steps is a positive integer', { max_inner_steps: 2.5 }, 'max_inner_steps: got 2.5, allowed: an integer in [1, 1024]'],
  ['commit_threshold in [0, 1]', { commit_threshold: 1.5 }, 'commit_threshold: got 1.5, allowed: a number in [0, 1]'],
  ['min_commit_threshold in [0, 1]', { min_commit_threshold: -0.1 }, 'min_commit_threshold: got -0.1, allowed: a number in [0, 1]'],
  ['commit_threshold >= min_commit_threshold', { commit_threshold: 0.2, min_commit_threshold: 0.5 }, 'commit_threshold: got 0.2, allowed: a number >= min_commit_threshold (0.5)'],
  ['layers_to_refine is "all" or a list', { layers_to_refine: 'some' }, 'layers_to_refine: got "some" (a string), allowed: "all" or a list of distinct layer indices (integers >= 0)'],
  ['layers_to_refine indices are >= 0', { layers_to_refine: [0, -1] }, 'layers_to_refine.1: got -1, allowed: a layer index (an integer >= 0)'],
  ['layers_to_refine indices are distinct', { layers_to_refine: [2, 2] }, 'layers_to_refine: got [2,2], allowed: "all" or a list of distinct layer indices (integers >= 0)'],
  ['use_latent_token is a boolean', { use_latent_token: 1 }, 'use_latent_token: got 1, allowed: true or false'],
  ['d_state is a positive integer', { d_state: 1.5 }, 'd_state: got 1.5, allowed: an integer in [1, 65536]'],
  ['gate_hidden is a positive integer', { gate_hidden: -4 }, 'gate_hidden: got -4, allowed: an integer in [1, 65536]'],
  ['max_chunk_len is a positive integer', { max_chunk_len: 0 }, 'max_chunk_len: got 0, allowed: an integer in [1, 65536]'],
  ['max_chunk_len covers a whole chunk when the length head is on', { chunk_width: 64, max_chunk_len: 32 }, 'max_chunk_len: got 32, allowed: an integer >= chunk_width (64) when enable_length_head is true (the length head predicts lengths 0..max_chunk_len)'],
  ['corruption_rate in [0, 1]', { corruption_rate: 2 }, 'corruption_rate: got 2, allowed: a number in [0, 1]'],
  ['corruption_schedule is a known name', { corruption_schedule: 'exponential' }, 'corruption_schedule: got "exponential", allowed: one of "linear", "cosine", "none"'],
  ['corruption_rate_final in [0, 1]', { corruption_rate_final: null }, 'corruption_rate_final: got null, allowed: a number in [0, 1]'],
  ['lambda_final in [0, 1e6]', { lambda_final: -1 }, 'lambda_final: got -1, allowed: a number in [0, 1e6]'],
  ['lambda_masked in [0, 1e6]', { lambda_masked: -0.5 }, 'lambda_masked: got -0.5, allowed: a number in [0, 1e6]'],
  ['lambda_halt in [0, 1e6]', { lambda_halt: '0.5' }, 'lambda_halt: got "0.5" (a string), allowed: a number in [0, 1e6]'],
  ['lambda_len in [0, 1e6]', { lambda_len: -0.05 }, 'lambda_len: got -0.05, allowed: a number in [0, 1e6]'],
  ['lambda_ponder in [0, 1e6]', { lambda_ponder: [] }, 'lambda_ponder: got [], allowed: a number in [0, 1e6]'],
  ['lambda_stability in [0, 1e6]', { lambda_stability: -0.01 }, 'lambda_stability: got -0.01, allowed: a number in [0, 1e6]'],
  ['cache_reset_policy is a known policy', { cache_reset_policy: 'reset_mla' }, 'cache_reset_policy: got "reset_mla", allowed: one of "keep_kda_recurrent_reset_mla", "keep_all", "reset_all"'],
  ['enable_length_head is a boolean', { enable_length_head: 'true' }, 'enable_length_head: got "true" (a string), allowed: true or false'],
  ['use_soft_tokens is a boolean', { use_soft_tokens: {} }, 'use_soft_tokens: got {} (an object), allowed: true or false'],
  ['unknown keys are rejected (with a suggestion)', { lambda_fnal: 1 }, `lambda_fnal: unknown field, got 1 (did you mean "lambda_final"?), allowed: ${FIELDS}`],
  ['unknown keys are rejected', { learning_rate: 0.1 }, `learning_rate: unknown field, got 0.1, allowed: ${FIELDS}`],
];

for (const [rule, input, line] of RECURSIVE_RULES) {
  test(`config rule (recursive): ${rule}`, () => {
    assert.deepEqual(problemsOf(() => parseRecursiveConfig(input)), [line]);
  });
}

test('config: a file with many problems lists every one, one line each, and the message names the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cfg-'));
  const file = path.join(dir, 'bad.json');
  const input = Object.fromEntries(RECURSIVE_RULES.filter(([rule]) => !rule.includes('covers') && !rule.includes('>= min')).map(([, i]) => Object.entries(i)[0]));
  input.commit_threshold = 0.1; // also breaks commit >= min (min keeps its default 0.3)
  delete input.min_commit_threshold;
  fs.writeFileSync(file, JSON.stringify(input));
  let err: ConfigError | undefined;
  try {
    loadRecursiveConfig(file);
  } catch (e) {
    err = e as ConfigError;
  }
  assert.ok(err instanceof ConfigError);
  assert.equal(err.problems.length, Object.keys(input).length);
  assert.ok(err.problems.includes('commit_threshold: got 0.1, allowed: a number >= min_commit_threshold (0.3)'));
  assert.ok(err.message.startsWith(`${file}: invalid recursive config (${err.problems.length} problems):\n  `));
  assert.equal(err.message.split('\n').length, err.problems.length + 1);
});

test('config: unreadable, non-JSON and non-object files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cfg-'));
  assert.deepEqual(problemsOf(() => loadRecursiveConfig(path.join(dir, 'missing.json'))), ['(file): not found']);
  fs.writeFileSync(path.join(dir, 'a.json'), '{ "chunk_width": 12,, }');
  assert.match(problemsOf(() => loadRecursiveConfig(path.join(dir, 'a.json')))[0], /^\(file\): not valid JSON \(/);
  fs.writeFileSync(path.join(dir, 'b.json'), '[1, 2]');
  assert.deepEqual(problemsOf(() => loadRecursiveConfig(path.join(dir, 'b.json'))), ['(top level): got [1,2], allowed: a JSON object of fields']);
});

const RUN_RULES: [string, Record<string, unknown>, string][] = [
  ['phase is a known phase', { phase: 'd' }, 'phase: got "d", allowed: one of "baseline", "after_surgery", "a", "b", "c"'],
  ['phases after the baseline need a base model', { phase: 'a' }, 'model.path: got null, allowed: a model or experiment directory (phase "a" starts from a trained base model)'],
  ['seed is a non-negative integer', { seed: -1 }, 'seed: got -1, allowed: an integer >= 0'],
  ['device is cpu or cuda', { device: 'gpu' }, 'device: got "gpu", allowed: "cpu", "cuda" or "cuda:N"'],
  ['num_steps >= 0', { num_steps: 1.5 }, 'num_steps: got 1.5, allowed: an integer in [0, 1000000000]'],
  ['batch_size >= 1', { batch_size: 0 }, 'batch_size: got 0, allowed: an integer in [1, 65536]'],
  ['model is an object', { model: 'tiny' }, 'model: got "tiny", allowed: an object with fields path, config'],
  ['data.seq_len >= 2', { data: { seq_len: 1 } }, 'data.seq_len: got 1, allowed: an integer in [2, 1048576]'],
  ['optimizer.lr > 0', { optimizer: { lr: 0 } }, 'optimizer.lr: got 0, allowed: a number in (0, 10]'],
  ['optimizer.beta2 in [0, 1)', { optimizer: { beta2: 1 } }, 'optimizer.beta2: got 1, allowed: a number in [0, 1)'],
  ['optimizer.grad_clip > 0 or null', { optimizer: { grad_clip: 0 } }, 'optimizer.grad_clip: got 0, allowed: a number in (0, 1e6], or null for no clipping'],
  ['schedule.decay is a known decay', { schedule: { decay: 'step' } }, 'schedule.decay: got "step", allowed: one of "linear", "cosine", "constant"'],
  ['intervals.save >= 1', { intervals: { save: 0 } }, 'intervals.save: got 0, allowed: an integer >= 1'],
  ['checkpoint.keep_last >= 1 or null', { checkpoint: { keep_last: 0 } }, 'checkpoint.keep_last: got 0, allowed: an integer >= 1, or null to keep every checkpoint'],
  ['checkpoint.best_mode min or max', { checkpoint: { best_mode: 'lowest' } }, 'checkpoint.best_mode: got "lowest", allowed: one of "min", "max"'],
  ['lora.rank >= 1', { lora: { rank: 0 } }, 'lora.rank: got 0, allowed: an integer in [1, 65536]'],
  ['unfreeze.every >= 1', { unfreeze: { every: 0 } }, 'unfreeze.every: got 0, allowed: an integer >= 1'],
  ['unknown nested keys are rejected', { optimizer: { learning_rate: 1 } }, 'optimizer.learning_rate: unknown field, got 1, allowed: lr, boundary_lr_scale, beta1, beta2, eps, weight_decay, grad_clip'],
];

for (const [rule, input, line] of RUN_RULES) {
  test(`config rule (run): ${rule}`, () => {
    assert.deepEqual(problemsOf(() => parseRunConfig(input)), [line]);
  });
}

test('config: run config defaults resolve; a resolved run config re-validates unchanged (run_config.json round trip)', () => {
  const c = parseRunConfig({ phase: 'a', model: { path: 'experiments/base' }, num_steps: 10 });
  assert.equal(c.model.config, 'tiny');
  assert.equal(c.optimizer.weight_decay, 0.05);
  assert.equal(c.checkpoint.best_metric, 'eval/loss');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-cfg-'));
  fs.writeFileSync(path.join(dir, 'run_config.json'), JSON.stringify(c));
  assert.deepEqual(loadRunConfig(path.join(dir, 'run_config.json')), c);
});
