import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KimiLinearLM, type ModelConfig, Tensor, backward, loadModel, loadModelConfig, loadWeights, memory, noGrad, parseModelConfig, saveModel, scope, setNumThreads, writeSafetensors, adamw } from '../src';
import { rmsRel, rng } from './helpers';

// Micro models are far too small for threads to pay off; one thread keeps this file fast on a shared machine.
setNumThreads(1);

/** A micro model: KDA, MLA and KDA layers, 2 heads of 8, dense MLPs. */
function microConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return parseModelConfig({
    vocab_size: 11,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 3,
    rms_norm_eps: 1e-5,
    initializer_range: 0.2,
    num_attention_heads: 2,
    kv_lora_rank: 6,
    qk_nope_head_dim: 4,
    qk_rope_head_dim: 3,
    v_head_dim: 5,
    first_k_dense_replace: 3,
    linear_attn_config: { num_heads: 2, head_dim: 8, short_conv_kernel_size: 4, kda_layers: [1, 3], full_attn_layers: [2] },
    ...over,
  });
}

function randomIds(B: number, T: number, V: number, seed: number): Tensor {
  const r = rng(seed);
  return Tensor.from(Int32Array.from({ length: B * T }, () => Math.floor(r() * V)), [B, T]);
}

const logitsOf = (m: KimiLinearLM, ids: Tensor) => noGrad(() => scope(() => m.forward(ids).data.toFloat32Array()));

test('parameter names follow the Hugging Face Kimi-Linear layout', () => {
  const m = new KimiLinearLM(microConfig());
  const names = [...m.namedParameters().keys()];
  for (const n of [
    'model.embed_tokens.weight',
    'model.layers.0.input_layernorm.weight',
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.0.self_attn.q_conv1d.weight',
    'model.layers.0.self_attn.A_log',
    'model.layers.0.self_attn.dt_bias',
    'model.layers.0.self_attn.f_a_proj.weight',
    'model.layers.0.self_attn.f_b_proj.weight',
    'model.layers.0.self_attn.b_proj.weight',
    'model.layers.0.self_attn.g_a_proj.weight',
    'model.layers.0.self_attn.g_b_proj.weight',
    'model.layers.0.self_attn.o_norm.weight',
    'model.layers.0.self_attn.o_proj.weight',
    'model.layers.0.post_attention_layernorm.weight',
    'model.layers.0.mlp.gate_proj.weight',
    'model.layers.1.self_attn.q_proj.weight',
    'model.layers.1.self_attn.kv_a_proj_with_mqa.weight',
    'model.layers.1.self_attn.kv_a_layernorm.weight',
    'model.layers.1.self_attn.kv_b_proj.weight',
    'model.layers.1.self_attn.o_proj.weight',
    'model.layers.2.mlp.down_proj.weight',
    'model.norm.weight',
    'lm_head.weight',
  ])
    assert.ok(names.includes(n), `missing ${n}`);
  assert.equal(m.layers[1].kind, 'full_attention');
  assert.deepEqual(m.namedParameters().get('model.layers.0.self_attn.f_b_proj.weight')!.shape, [16, 8]);
  assert.ok(!names.includes('model.layers.1.self_attn.A_log'));
  assert.equal(new Set(names).size, names.length);
  // fla init ranges: A_log = log U(1,16); softplus(dt_bias) ∈ [1e-3, 1e-1]
  for (const a of m.namedParameters().get('model.layers.0.self_attn.A_log')!.data.toFloat32Array()) assert.ok(a >= 0 && a <= Math.log(16));
  for (const b of m.namedParameters().get('model.layers.0.self_attn.dt_bias')!.data.toFloat32Array()) {
    const dt = Math.log1p(Math.exp(b));
    assert.ok(dt >= 0.999e-3 && dt <= 0.1001, `dt ${dt}`);
  }
  m.dispose();
});

test('a tied model shares the embedding as lm_head', () => {
  const m = new KimiLinearLM(microConfig({ tie_word_embeddings: true }));
  assert.equal(m.lm_head, m.embed_tokens);
  assert.ok(!m.namedParameters().has('lm_head.weight'));
  m.dispose();
});

test('whole-model parameter gradients match central finite differences', () => {
  // Float32 engine, h = 3e-3, 42 sampled coordinates over 14 parameters of every kind; the loss is the
  // model's mean next-token cross-entropy. Tolerance rmsRel ≤ 1e-2 (measured ~1e-3: O(h²) truncation with
  // init std 0.2 plus f32 rounding of a loss ≈ 2.4; shrinking h converges to the analytic gradient).
  const m = new KimiLinearLM(microConfig(), { seed: 3 });
  const ids = randomIds(2, 7, 11, 5);
  scope(() => backward(m.loss(ids)));
  const lossAt = () => noGrad(() => scope(() => m.loss(ids).data.toFloat32Array()[0]));
  const probe = [
    'model.embed_tokens.weight',
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.0.self_attn.k_conv1d.weight',
    'model.layers.0.self_attn.A_log',
    'model.layers.0.self_attn.dt_bias',
    'model.layers.0.self_attn.f_a_proj.weight',
    'model.layers.0.self_attn.b_proj.weight',
    'model.layers.0.self_attn.g_b_proj.weight',
    'model.layers.0.self_attn.o_norm.weight',
    'model.layers.1.self_attn.q_proj.weight',
    'model.layers.1.self_attn.kv_a_proj_with_mqa.weight',
    'model.layers.1.self_attn.kv_a_layernorm.weight',
    'model.layers.1.self_attn.kv_b_proj.weight',
    'model.layers.2.self_attn.o_proj.weight',
    'model.layers.2.mlp.up_proj.weight',
    'model.norm.weight',
    'lm_head.weight',
  ];
  const r = rng(17);
  const h = 3e-3;
  const num: number[] = [];
  const ana: number[] = [];
  const params = m.namedParameters();
  for (const name of probe) {
    const p = params.get(name)!;
    const g = p.grad!.toFloat32Array();
    const base = p.data.toFloat32Array();
    for (let c = 0; c < 3; c++) {
      const i = Math.floor(r() * base.length);
      const d = Float32Array.from(base);
      d[i] = base[i] + h;
      p.assign(Tensor.from(d, p.shape));
      const fp = lossAt();
      d[i] = base[i] - h;
      p.assign(Tensor.from(d, p.shape));
      const fm = lossAt();
      p.assign(Tensor.from(base, p.shape));
      num.push((fp - fm) / (2 * h));
      ana.push(g[i]);
    }
  }
  const err = rmsRel(num, ana);
  if (process.env.RECLIN_GRAD_VERBOSE) console.log(`model FD error ${err.toExponential(2)}`);
  assert.ok(err <= 1e-2, `finite-difference error ${err}`);
  for (const p of m.parameters()) assert.ok(p.grad, `${p.name} got no gradient`);
  ids.dispose();
  m.dispose();
});

test('same seed gives bit-identical weights and logits; another seed differs', () => {
  const ids = randomIds(2, 9, 11, 1);
  const a = new KimiLinearLM(microConfig(), { seed: 42 });
  const b = new KimiLinearLM(microConfig(), { seed: 42 });
  const c = new KimiLinearLM(microConfig(), { seed: 43 });
  assert.deepEqual(logitsOf(a, ids), logitsOf(b, ids));
  assert.deepEqual(logitsOf(a, ids), logitsOf(a, ids));
  assert.notDeepEqual(logitsOf(a, ids), logitsOf(c, ids));
  for (const m of [a, b, c]) m.dispose();
  ids.dispose();
});

test('save/load round trip is bit-exact (config.json + model.safetensors)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-model-'));
  const ids = randomIds(1, 6, 11, 2);
  const m = new KimiLinearLM(microConfig(), { seed: 7 });
  saveModel(m, dir);
  assert.ok(fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors')));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.equal(cfg.hidden_size, 16);
  assert.deepEqual(cfg.linear_attn_config.kda_layers, [1, 3]);
  const l = loadModel(dir, { seed: 999 }); // a different init seed: every value must come from the file
  for (const [name, p] of m.namedParameters()) assert.deepEqual(l.namedParameters().get(name)!.data.toFloat32Array(), p.data.toFloat32Array(), name);
  assert.deepEqual(logitsOf(l, ids), logitsOf(m, ids));
  // a file for another architecture is rejected with the names that differ
  const other = new KimiLinearLM(microConfig({ num_hidden_layers: 2, linear_attn_config: { num_heads: 2, head_dim: 8, short_conv_kernel_size: 4, kda_layers: [1], full_attn_layers: [2] } }));
  assert.throws(() => loadWeights(other, path.join(dir, 'model.safetensors')), /unexpected \(not in this config\): model\.layers\.2/);
  for (const x of [m, l, other]) x.dispose();
  ids.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('continuing from a prefix state gives the same logits as one pass over the whole sequence', () => {
  const m = new KimiLinearLM(microConfig(), { seed: 11 });
  const [B, P, W] = [2, 5, 4];
  const ids = randomIds(B, P + W, 11, 9);
  const all = ids.toInt32Array();
  const part = (s: number, e: number) => {
    const out = new Int32Array(B * (e - s));
    for (let b = 0; b < B; b++) for (let t = s; t < e; t++) out[b * (e - s) + t - s] = all[b * (P + W) + t];
    return Tensor.from(out, [B, e - s]);
  };
  const full = logitsOf(m, ids);
  const chunk = noGrad(() =>
    scope(() => {
      const pre = m.forwardWithState(part(0, P), null);
      const a = m.forwardWithState(part(P, P + W), pre.states).logits.data.toFloat32Array();
      const b = m.forwardWithState(part(P, P + W), pre.states).logits.data.toFloat32Array(); // state reusable
      assert.deepEqual(a, b);
      return a;
    }),
  );
  const V = 11;
  const ref = new Float32Array(B * W * V);
  for (let b = 0; b < B; b++) ref.set(full.subarray((b * (P + W) + P) * V, (b * (P + W) + P + W) * V), b * W * V);
  assert.ok(rmsRel(ref, chunk) < 1e-5, `rmsRel ${rmsRel(ref, chunk)}`);
  ids.dispose();
  m.dispose();
});

test('training steps of a whole model inside scope() do not grow memory (100 steps)', () => {
  const m = new KimiLinearLM(microConfig(), { seed: 1 });
  const ids = randomIds(2, 8, 11, 4);
  const step = () => scope(() => backward(m.loss(ids)));
  step();
  const before = memory();
  for (let i = 0; i < 100; i++) step();
  const after = memory();
  assert.equal(after.hostBytes, before.hostBytes);
  assert.equal(after.liveStorages, before.liveStorages);
  m.dispose();
  ids.dispose();
});

test('frozen parameters get no gradient buffers', () => {
  const m = new KimiLinearLM(microConfig());
  m.setRequiresGrad(false);
  m.layers[2].setRequiresGrad(true);
  const ids = randomIds(1, 5, 11, 3);
  scope(() => backward(m.loss(ids)));
  for (const p of m.parameters()) assert.equal(p.grad !== null, p.name.startsWith('model.layers.2.'), p.name);
  ids.dispose();
  m.dispose();
});

test('presets: tiny has 1-4M parameters, small loads; bad configs are rejected with the field named', () => {
  const tiny = new KimiLinearLM(loadModelConfig('tiny'));
  const n = tiny.numParameters();
  assert.ok(n >= 1e6 && n <= 4e6, `tiny has ${n} parameters`);
  assert.ok(tiny.layers.some((l) => l.kind === 'kda') && tiny.layers.some((l) => l.kind === 'full_attention'));
  tiny.dispose();
  assert.equal(loadModelConfig('small').num_hidden_layers, 8);
  assert.throws(() => loadModelConfig('no-such-preset'), /neither a preset/);
  assert.throws(() => microConfig({ hidden_size: -1 }), /hidden_size/);
  const la = { num_heads: 2, head_dim: 8, short_conv_kernel_size: 4 };
  assert.throws(() => microConfig({ linear_attn_config: { ...la, kda_layers: [1, 2], full_attn_layers: [2] } }), /layer 2 is listed in both/);
  assert.throws(() => microConfig({ linear_attn_config: { ...la, kda_layers: [1], full_attn_layers: [2] } }), /layer 3 is in neither/);
  assert.throws(() => microConfig({ linear_attn_config: { ...la, kda_layers: [0, 1, 3], full_attn_layers: [2] } }), /kda_layers/);
});

test('weights in the Hugging Face layout (conv [C,1,W], A_log [1,1,H,1]) load as well', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-hf-'));
  const m = new KimiLinearLM(microConfig(), { seed: 4 });
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const p of m.parameters()) {
    let shape = p.shape;
    if (p.name.endsWith('conv1d.weight')) shape = [shape[0], 1, shape[1]];
    if (p.name.endsWith('.A_log')) shape = [1, 1, shape[0], 1];
    tensors[p.name] = { dtype: 'F32', shape, data: p.data.toFloat32Array() };
  }
  const file = path.join(dir, 'model.safetensors');
  writeSafetensors(file, tensors);
  const l = new KimiLinearLM(microConfig(), { seed: 5 });
  loadWeights(l, file);
  for (const [name, p] of m.namedParameters()) assert.deepEqual(l.namedParameters().get(name)!.data.toFloat32Array(), p.data.toFloat32Array(), name);
  // any other shape mismatch is named
  tensors['model.norm.weight'] = { dtype: 'F32', shape: [2, 8], data: new Float32Array(16) };
  writeSafetensors(file, tensors);
  assert.throws(() => loadWeights(l, file), /model\.norm\.weight has shape \[2,8\], the model expects \[16\]/);
  m.dispose();
  l.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('end to end: AdamW on the autograd gradients fits a fixed batch (loss falls by more than half in 40 steps)', () => {
  const m = new KimiLinearLM(microConfig({ initializer_range: 0.02 }), { seed: 2 });
  const ids = randomIds(2, 12, 11, 6);
  const params = m.parameters();
  const mState = params.map((p) => Tensor.zeros(p.shape));
  const vState = params.map((p) => Tensor.zeros(p.shape));
  const losses: number[] = [];
  for (let step = 1; step <= 40; step++) {
    losses.push(
      scope(() => {
        const loss = m.loss(ids);
        backward(loss);
        adamw.step(params.map((p) => p.data), params.map((p) => p.grad!), mState, vState, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step });
        m.zeroGrad();
        return loss.data.toFloat32Array()[0];
      }),
    );
  }
  if (process.env.RECLIN_GRAD_VERBOSE) console.log(`loss ${losses[0]} -> ${losses[39]}`);
  assert.ok(losses[39] < 0.5 * losses[0], `loss ${losses[0]} -> ${losses[39]}`);
  for (const t of [...mState, ...vState]) t.dispose();
  m.dispose();
  ids.dispose();
});
