// A fuzz-style suite for the CLI side: `reclin run` (and resume, compare, card, show) with flags, configs and files
// at their limits: garbage JSON, huge numbers, NaN, wrong types, __proto__ keys, truncated files, odd paths.
// Cases come from a seeded generator (FUZZ_SEED to vary it) and run in process until the time budget
// (FUZZ_MS, default 30 s) or the case cap is reached. Every case must either succeed, or fail with one clear
// message (no stack, no "[object Object]", no internal TypeError) and a non-zero exit code, leaving no run
// directory behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from './cli-helpers';
import { cliInProcess } from './cli-inprocess';

const SEED = Number(process.env.FUZZ_SEED ?? 9);
const BUDGET_MS = Number(process.env.FUZZ_MS ?? 30_000);
const MAX_CASES = 400;

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-fuzz-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its number. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUM_FLAGS = ['--num-steps', '--batch-size', '--lr', '--warmup-steps', '--log-interval', '--eval-interval', '--save-interval', '--keep-last', '--seed'];
const FLAG_VALUES = ['', ' ', '-1', '0', '-0', '00', 'NaN', 'Infinity', '-Infinity', '1e308', '1e-320', '1.5', '0x10', '9007199254740993', 'abc', '1e9', '١', '1_000', '+1', 'all', '{}', '__proto__'];
const JSON_VALUES: unknown[] = [null, -1, 0, 0.5, 1e308, -1e308, 2 ** 53, 'NaN', 'Infinity', '1', '', true, [], {}, [1, 2], { __proto__: null, x: 1 }, 'x'.repeat(5000)];
const RUN_FIELDS = ['phase', 'seed', 'device', 'num_steps', 'batch_size', 'model', 'model.path', 'model.config', 'data', 'data.train', 'data.eval', 'data.seq_len', 'data.eval_examples', 'data.eval_seed', 'optimizer.lr', 'optimizer.beta1', 'optimizer.beta2', 'optimizer.eps', 'optimizer.weight_decay', 'optimizer.grad_clip', 'optimizer.boundary_lr_scale', 'schedule.warmup_steps', 'schedule.decay', 'schedule.min_lr_ratio', 'intervals.log', 'intervals.eval', 'intervals.save', 'checkpoint.keep_last', 'checkpoint.best_metric', 'checkpoint.best_mode', 'lora.rank', 'unfreeze.every', 'hf_repo', '__proto__', 'constructor', 'no_such_field', 'data.__proto__'];
const RECURSIVE_FIELDS = ['recursive_enabled', 'chunk_width', 'max_inner_steps', 'commit_threshold', 'min_commit_threshold', 'layers_to_refine', 'use_latent_token', 'd_state', 'gate_hidden', 'max_chunk_len', 'corruption_rate', 'corruption_schedule', 'lambda_final', 'lambda_halt', 'cache_reset_policy', 'enable_length_head', '__proto__', 'nope'];
const MODEL_FIELDS = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'kv_lora_rank', 'qk_nope_head_dim', 'qk_rope_head_dim', 'v_head_dim', 'rms_norm_eps', 'initializer_range', 'tie_word_embeddings', 'linear_attn_config', 'linear_attn_config.num_heads', 'linear_attn_config.head_dim', 'linear_attn_config.short_conv_kernel_size', 'linear_attn_config.kda_layers', 'linear_attn_config.full_attn_layers', '__proto__'];

function setPath(obj: Record<string, any>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (!Object.hasOwn(cur, k) || cur[k] === null || typeof cur[k] !== 'object') Object.defineProperty(cur, k, { value: {}, enumerable: true, writable: true, configurable: true });
    cur = cur[k];
  }
  // defineProperty, so that "__proto__" becomes an own key of the JSON, as a hostile file would have it.
  Object.defineProperty(cur, keys[keys.length - 1], { value, enumerable: true, writable: true, configurable: true });
}

test(`fuzz: run and friends on flags, configs and files at their limits (seed ${SEED}, budget ${BUDGET_MS} ms)`, async (t) => {
  const tiny = JSON.parse(fs.readFileSync(path.join(repoRoot, 'configs', 'models', 'tiny.json'), 'utf8'));
  const micro = { ...tiny, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 16, linear_attn_config: { ...tiny.linear_attn_config, num_heads: 2, head_dim: 16, kda_layers: [1], full_attn_layers: [2] } };
  const baseRun = { num_steps: 1, batch_size: 1, data: { eval_examples: 2 }, schedule: { warmup_steps: 1 } };
  const smallA = { recursive_enabled: true, chunk_width: 4, max_chunk_len: 4, max_inner_steps: 1, d_state: 8, gate_hidden: 8 };
  const w = (name: string, data: string | Buffer) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, data);
    return p;
  };
  w('micro.json', JSON.stringify(micro));
  w('run.json', JSON.stringify(baseRun));
  w('small_a.json', JSON.stringify(smallA));
  // A real base model for the phase-a cases.
  const base = await cliInProcess(['run', '--experiment-dir', 'bases', '--experiment-name', 'base', '--model-config', 'micro.json', '--run-config', 'run.json', '--num-steps', '1'], { cwd: tmp });
  assert.equal(base.code, 0, base.stderr);
  const baseDir = path.join(tmp, 'bases', 'base');
  const weights = fs.readFileSync(path.join(baseDir, 'checkpoints', 'step_000001', 'model', 'model.safetensors'));
  fs.mkdirSync(path.join(tmp, 'adir'));

  const files: Record<string, () => string> = {
    missing: () => path.join(tmp, 'no-such-file.json'),
    directory: () => path.join(tmp, 'adir'),
    devnull: () => '/dev/null',
    empty: () => w('empty.json', ''),
    truncated: () => w('trunc.json', JSON.stringify(baseRun).slice(0, 17)),
    binary: () => w('bin.json', Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22, 0x80, 0x0a])),
    array: () => w('arr.json', '[1,2,3]'),
    nul: () => w('null.json', 'null'),
    deep: () => w('deep.json', `${'['.repeat(5000)}${']'.repeat(5000)}`),
    proto: () => w('proto.json', '{"__proto__": {"num_steps": 2}, "constructor": {"prototype": {}}}'),
    bigint: () => w('bigint.json', '{"num_steps": 123456789012345678901234567890}'),
  };
  const garbageModelDir = (r: () => number, i: number) => {
    const d = path.join(tmp, `model_${i}`);
    fs.mkdirSync(d, { recursive: true });
    const cfgs = [JSON.stringify(micro), '{', '', 'null', JSON.stringify({ ...micro, hidden_size: 48 }), JSON.stringify({ ...micro, vocab_size: 10 }), '{"vocab_size": "264"}', null];
    const wts = [weights, weights.subarray(0, 40), Buffer.alloc(0), Buffer.from('garbage'), Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), Buffer.from('{}')]), null];
    const c = cfgs[Math.floor(r() * cfgs.length)];
    const m = wts[Math.floor(r() * wts.length)];
    if (r() < 0.85) c === null ? fs.mkdirSync(path.join(d, 'config.json')) : fs.writeFileSync(path.join(d, 'config.json'), c);
    if (r() < 0.85) m === null ? fs.mkdirSync(path.join(d, 'model.safetensors')) : fs.writeFileSync(path.join(d, 'model.safetensors'), m);
    if (r() < 0.2) fs.writeFileSync(path.join(d, 'experiment_metadata.json'), r() < 0.5 ? '{"id": "x", "best' : '{"id": "x"}');
    return d;
  };

  const r = rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const kinds = { flag: 0, run_config: 0, recursive_config: 0, model_config: 0, file: 0, model_path: 0, data_path: 0, name: 0, other_command: 0 };
  let refused = 0;
  let succeeded = 0;
  const t0 = Date.now();
  let i = 0;
  for (; i < MAX_CASES && Date.now() - t0 < BUDGET_MS; i++) {
    const expDir = path.join(tmp, `exp_${i}`);
    let args = ['run', '--experiment-dir', expDir, '--model-config', 'micro.json', '--run-config', 'run.json'];
    const kind = pick(Object.keys(kinds)) as keyof typeof kinds;
    kinds[kind]++;
    const cfg = JSON.parse(JSON.stringify(baseRun));
    if (kind === 'flag') {
      for (let k = 0, n = 1 + Math.floor(r() * 2); k < n; k++) args.push(pick(NUM_FLAGS), pick(FLAG_VALUES));
      args.push('--num-steps', '1');
    } else if (kind === 'run_config') {
      for (let k = 0, n = 1 + Math.floor(r() * 2); k < n; k++) setPath(cfg, pick(RUN_FIELDS), pick(JSON_VALUES));
      args = args.slice(0, -1).concat(w(`run_${i}.json`, JSON.stringify(cfg)));
    } else if (kind === 'recursive_config') {
      const rec = JSON.parse(JSON.stringify(smallA));
      setPath(rec, pick(RECURSIVE_FIELDS), pick(JSON_VALUES));
      args = ['run', '--experiment-dir', expDir, '--run-config', 'run.json', '--phase', 'a', '--model-path', baseDir, '--recursive-config', w(`rec_${i}.json`, JSON.stringify(rec))];
    } else if (kind === 'model_config') {
      const m = JSON.parse(JSON.stringify(micro));
      setPath(m, pick(MODEL_FIELDS), pick(JSON_VALUES));
      args[4] = w(`model_${i}.json`, JSON.stringify(m));
    } else if (kind === 'file') {
      const which = pick(['--run-config', '--recursive-config', '--model-config', '--data-path', '--eval-data-path']);
      const f = files[pick(Object.keys(files))]();
      args.push(which, f);
      if (which === '--recursive-config' && r() < 0.5) args.push('--phase', 'a', '--model-path', baseDir);
    } else if (kind === 'model_path') {
      args = ['run', '--experiment-dir', expDir, '--run-config', 'run.json', '--phase', 'a', '--recursive-config', 'small_a.json', '--model-path', garbageModelDir(r, i)];
    } else if (kind === 'data_path') {
      const texts = ['', 'x', '\u0000\u0001\u0002'.repeat(50), '{"text": 1}\n', '{"prompt": "a"}\n', '{"text": "ok"}\n{\n', '[]\n', 'null\n', `${'{"text": "a"}\n'.repeat(3)}`, '\n\n\n'];
      args.push(pick(['--data-path', '--eval-data-path']), w(`data_${i}${pick(['.txt', '.jsonl'])}`, pick(texts)));
    } else if (kind === 'name') {
      args.push('--experiment-name', pick(['..', '.', '', 'a/b', '-x', 'a'.repeat(300), 'ok\u0007', '名前', '__proto__/x', ' ']));
    } else {
      args = pick([
        ['resume', pick([tmp, path.join(tmp, 'adir'), '/dev/null', path.join(tmp, 'nope'), ''])],
        ['compare', baseDir, pick([tmp, '/dev/null', 'x'])],
        ['compare', baseDir, baseDir, '--html', pick(['/dev/null', '/proc/self/fd/1', tmp, path.join(tmp, 'no', 'x.html')])],
        ['card', pick([path.join(tmp, 'adir'), '/dev/null', path.join(tmp, 'nope')])],
        ['show', pick([path.join(tmp, 'adir'), '/dev/null', ''])],
        ['run', '--experiment-dir', pick(['/dev/null', path.join(tmp, 'micro.json')]), '--model-config', 'micro.json', '--run-config', 'run.json'],
      ]);
    }
    const res = await cliInProcess(args, { cwd: tmp });
    const what = `case ${i} (${kind}): reclin ${args.map((a) => JSON.stringify(a)).join(' ')}\n${res.stdout}${res.stderr}`;
    if (res.code === 0) {
      succeeded++;
      continue;
    }
    refused++;
    assert.ok(res.stderr.length > 0 && res.stderr.length < 8000, what);
    assert.match(res.stderr, /^(reclin: |error: )/m, what);
    assert.ok(!/\[object Object\]|\n\s+at .*\(.*:\d+:\d+\)|Cannot read propert|is not a function|is not iterable|Maximum call stack/.test(res.stderr), what);
    assert.ok(!fs.existsSync(expDir) || fs.readdirSync(expDir).length === 0, `${what}\nleft: ${fs.existsSync(expDir) ? fs.readdirSync(expDir).join(', ') : ''}`);
  }
  t.diagnostic(`fuzz: ${i} cases in ${Date.now() - t0} ms (seed ${SEED}): ${refused} refused cleanly, ${succeeded} valid runs; by kind ${JSON.stringify(kinds)}`);
  assert.ok(i >= 30, `only ${i} cases ran within the budget`);
});
