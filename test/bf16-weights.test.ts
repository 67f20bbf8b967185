// Frozen weights kept in bf16 (issue 10): the ops that read weights (matmul's B operand, the embedding table, MoE
// experts) take bf16 and widen it exactly as they compute, so every result equals the f32-widened weight's bit for
// bit; a frozen base loaded from a bf16 checkpoint keeps those weights bf16 and gives the widened load's logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KimiLinearLM, Parameter, Tensor, Var, ag, backward, loadModel, loadModelConfig, memory, moe, noGrad, ops, saveModel, scope } from '../src';
import { rmsRel } from './helpers';
import { BF16_SIZES } from './bf16-weights-sizes';
import { assertSameBits, matmulRef, rand } from './ops-ref';

const bits = (t: Tensor) => t.toFloat32Array();
const f64 = (t: Tensor) => Float64Array.from(t.toFloat32Array());

test('matmul with a bf16 b: equal to the f32-widened b bit for bit, and to a float64 reference, every transpose and awkward size', () => {
  let seed = 500;
  for (const [M, K, N] of BF16_SIZES)
    for (const transA of [false, true])
      for (const transB of [false, true])
        scope(() => {
          const a = rand(transA ? [K, M] : [M, K], seed++);
          const b = ops.cast(rand(transB ? [N, K] : [K, N], seed++).t, 'bf16');
          const wide = ops.cast(b, 'f32');
          const tag = `${M}x${K}x${N} transA=${transA} transB=${transB}`;
          const c = ops.matmul(a.t, b, { transA, transB, alpha: 0.5 });
          assertSameBits(tag, bits(c), bits(ops.matmul(a.t, wide, { transA, transB, alpha: 0.5 })));
          const e = rmsRel(matmulRef(a.x, f64(wide), M, N, K, transA, transB, 0.5), f64(c));
          assert.ok(e < 1e-5, `${tag}: RMS-relative error ${e}`);
        });
});

test('matmul with a bf16 b equals the widened b bit for bit under every packing path and micro-kernel', () => {
  for (const env of [{}, { RECLIN_GEMM_PACK: 'scalar' }, { RECLIN_GEMM_KERNEL: 'avx2' }, { RECLIN_GEMM_KERNEL: 'scalar' }, { RECLIN_GEMM_KERNEL: 'scalar', RECLIN_GEMM_PACK: 'scalar' }]) {
    const e: NodeJS.ProcessEnv = { ...process.env };
    delete e.RECLIN_GEMM_PACK;
    delete e.RECLIN_GEMM_KERNEL;
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'bf16-weights-child.ts')], { env: { ...e, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, r.stderr);
    const cases = JSON.parse(r.stdout) as { tag: string; bf16: string; wide: string }[];
    assert.equal(cases.length, BF16_SIZES.length * 4);
    for (const c of cases) assert.equal(c.bf16, c.wide, `${JSON.stringify(env)}: ${c.tag}`);
  }
});

test('batched matmul with a bf16 b (shared 2-D and per batch) equals the widened b', () =>
  scope(() => {
    const a = rand([3, 17, 40], 1).t;
    const shared = ops.cast(rand([33, 40], 2).t, 'bf16');
    assertSameBits('shared transB', bits(ops.matmul(a, shared, { transB: true })), bits(ops.matmul(a, ops.cast(shared, 'f32'), { transB: true })));
    const per = ops.cast(rand([3, 40, 21], 3).t, 'bf16');
    assertSameBits('per batch', bits(ops.matmul(a, per)), bits(ops.matmul(a, ops.cast(per, 'f32'))));
    // a frozen linear: forward x·Wᵀ and the input gradient dY·W both read W as b
    const w = new Parameter('w', ops.cast(rand([24, 40], 4).t, 'bf16'), { requiresGrad: false, bf16Ok: true });
    const wWide = new Parameter('wWide', ops.cast(w.data, 'f32'), { requiresGrad: false });
    const grads = [w, wWide].map((p) => {
      const x = new Var(ops.copy(a), true);
      const y = ag.linear(x, p);
      backward(ag.sum(ag.mul(y, y)));
      return [bits(y.data), bits(x.grad!)];
    });
    assertSameBits('linear forward', grads[0][0], grads[1][0]);
    assertSameBits('linear dX', grads[0][1], grads[1][1]);
    w.dispose();
    wWide.dispose();
  }));

test('only matmul b, the embedding table and the MoE expert weights take bf16; other ops refuse it by name', () =>
  scope(() => {
    const a = ops.cast(rand([4, 5], 1).t, 'bf16');
    const b = rand([5, 3], 2).t;
    assert.throws(() => ops.matmul(a, b), /matmul: a: expected dtype f32, got bf16$/);
    assert.throws(() => ops.rmsnorm(rand([2, 5], 3).t, ops.cast(rand([5], 4).t, 'bf16'), 1e-6), /rmsnorm: weight: expected dtype f32, got bf16$/);
    assert.throws(() => ops.matmul(rand([4, 5], 1).t, Tensor.from(new Int32Array(15), [5, 3])), /matmul: b: expected dtype f32 or bf16, got i32$/);
    // a trained parameter is never bf16
    assert.throws(() => new Parameter('p', ops.cast(b, 'bf16')), /only allowed as bf16 for a frozen parameter marked bf16Ok/);
    assert.throws(() => new Parameter('p', ops.cast(b, 'bf16'), { requiresGrad: false }), /only allowed as bf16 for a frozen parameter marked bf16Ok/);
    const p = new Parameter('p', ops.cast(b, 'bf16'), { requiresGrad: false, bf16Ok: true });
    p.setRequiresGrad(true);
    assert.equal(p.data.dtype, 'f32', 'unfreezing widens');
    assert.deepEqual(bits(p.data), bits(ops.cast(ops.cast(b, 'bf16'), 'f32')));
    assert.throws(() => p.replaceData(ops.cast(b, 'bf16')), /trainable/);
    p.dispose();
  }));

test('embedding from a bf16 table equals the widened table bit for bit', () =>
  scope(() => {
    const w = ops.cast(rand([37, 19], 5).t, 'bf16');
    const ids = Tensor.from(new Int32Array([0, 36, 5, 5, 12, 1, 30]), [7]);
    assertSameBits('embedding', bits(ops.embedding(w, ids)), bits(ops.embedding(ops.cast(w, 'f32'), ids)));
    assert.throws(() => ops.embedding(Tensor.from(new Int32Array(4), [2, 2]), ids), /embedding: weight: expected dtype f32 or bf16, got i32$/);
  }));

test('MoE experts with bf16 gateUp / down equal the widened weights (forward and dx); weightGrads: false skips their gradients', () =>
  scope(() => {
    const N = 23, d = 20, E = 5, I = 9, k = 2;
    const x = rand([N, d], 7).t;
    const gu = ops.cast(rand([E, 2 * I, d], 8, 0.3).t, 'bf16'), dn = ops.cast(rand([E, d, I], 9, 0.3).t, 'bf16');
    const guW = ops.cast(gu, 'f32'), dnW = ops.cast(dn, 'f32');
    const idx = new Int32Array(N * k);
    for (let n = 0; n < N; n++) {
      idx[n * k] = n % E;
      idx[n * k + 1] = (n * 3 + 1) % E === n % E ? (n + 1) % E : (n * 3 + 1) % E;
    }
    const indices = Tensor.from(idx, [N, k]);
    const weights = rand([N, k], 10, 0.5).t;
    const f = moe.experts(x, gu, dn, indices, weights), fw = moe.experts(x, guW, dnW, indices, weights);
    for (const key of ['y', 'h', 'ye'] as const) assertSameBits(`experts.${key}`, bits(f[key]), bits(fw[key]));
    const dy = rand([N, d], 11).t;
    const g = moe.expertsBackward(dy, x, gu, dn, indices, weights, f.h, f.ye, { weightGrads: false });
    const gw = moe.expertsBackward(dy, x, guW, dnW, indices, weights, fw.h, fw.ye);
    assertSameBits('dx', bits(g.dx), bits(gw.dx));
    assertSameBits('dWeights', bits(g.dWeights), bits(gw.dWeights));
    assert.equal(g.dGateUp, null);
    assert.equal(g.dDown, null);
    // with weight gradients (f32, from the activations) they equal the widened run's too
    const g2 = moe.expertsBackward(dy, x, gu, dn, indices, weights, f.h, f.ye);
    assertSameBits('dGateUp', bits(g2.dGateUp!), bits(gw.dGateUp!));
    assertSameBits('dDown', bits(g2.dDown!), bits(gw.dDown!));
  }));

test('a bf16 checkpoint loaded as a frozen base keeps its weights bf16 and gives the f32-widened load\'s logits and input gradients', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclin-bf16-frozen-'));
  try {
    const cfg = loadModelConfig('kimi-tiny');
    const m = new KimiLinearLM(cfg, { seed: 3 });
    saveModel(m, dir, { dtype: 'bfloat16', maxShardBytes: 1 << 20 });
    m.dispose();
    assert.ok(fs.existsSync(path.join(dir, 'model.safetensors.index.json')), 'sharded');

    const before = memory().hostBytes;
    const wide = loadModel(dir);
    const wideBytes = memory().hostBytes - before;
    wide.setRequiresGrad(false);
    const mid = memory().hostBytes;
    const narrow = loadModel(dir, { frozen: true });
    const narrowBytes = memory().hostBytes - mid;
    try {
      let expected = 0;
      for (const p of narrow.parameters()) {
        assert.equal(p.requiresGrad, false, p.name);
        assert.equal(p.data.dtype, p.bf16Ok ? 'bf16' : 'f32', `${p.name} (bf16Ok ${p.bf16Ok})`);
        expected += p.data.size * (p.bf16Ok ? 2 : 4);
      }
      assert.ok(narrow.parameters().some((p) => p.name.endsWith('experts.gate_up_proj') && p.data.dtype === 'bf16'));
      assert.ok(narrow.embed_tokens.data.dtype === 'bf16' && narrow.lm_head.data.dtype === 'bf16');
      assert.equal(narrowBytes, expected, 'host bytes held by the frozen bf16 load');
      assert.ok(narrowBytes < 0.6 * wideBytes, `bf16 load holds ${narrowBytes} bytes, the f32 load ${wideBytes}`);
      for (const p of wide.parameters()) assert.equal(p.data.dtype, 'f32', p.name);

      const B = 2, T = 21;
      const ids = Tensor.from(Int32Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % cfg.vocab_size), [B, T]);
      const logits = [wide, narrow].map((mm) => noGrad(() => scope(() => bits(mm.forward(ids).data))));
      assertSameBits('logits', logits[0], logits[1]);
      // the input gradient through every frozen layer (linear dX, MoE dx with weightGrads off, LM head)
      const dh = [wide, narrow].map((mm) =>
        scope(() => {
          const h = new Var(ops.copy(mm.embed(ids).data), true);
          let y: Var = h;
          for (const layer of mm.layers) y = layer.forward(y);
          const out = mm.head(y);
          backward(ag.sum(ag.mul(out, out)));
          return bits(h.grad!);
        }),
      );
      assertSameBits('dh', dh[0], dh[1]);
      // In a fresh process the load never held more than the loaded model plus one f32 parameter: no f32 copy
      // of the model is made (the frozen model starts from bf16 zero placeholders, not f32 initial values).
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'bf16-weights-peak-child.ts'), dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const peak = JSON.parse(r.stdout) as { hostBytes: number; peakHostBytes: number; maxNumel: number; dtypes: string[] };
      assert.deepEqual(peak.dtypes.sort(), ['bf16', 'f32']);
      assert.equal(peak.hostBytes, narrowBytes);
      assert.ok(peak.peakHostBytes <= peak.hostBytes + 4 * peak.maxNumel, `peak ${peak.peakHostBytes} bytes for a ${peak.hostBytes}-byte model (largest parameter ${peak.maxNumel} elements)`);
      // unfreezing a block widens its weights to f32 master weights with the same values
      narrow.layers[3].setRequiresGrad(true);
      const wideParams = wide.namedParameters();
      for (const p of narrow.layers[3].parameters()) {
        assert.equal(p.data.dtype, 'f32', p.name);
        assertSameBits(p.name, bits(p.data), bits(wideParams.get(p.name)!.data));
      }
    } finally {
      wide.dispose();
      narrow.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
