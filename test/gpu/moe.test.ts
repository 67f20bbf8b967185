// GPU only (scripts/gpu-check.sh): the CUDA mixture-of-experts ops (cuda/moe.cu) against the CPU op (native/moe.cc) on
// awkward sizes (N not a multiple of a block, E not a power of two, topK > 1, grouped routing, softmax, an expert
// without tokens), a bad expert index reported by the device check, and a few kimi-tiny (MLA + MoE + KDA) training
// steps on CUDA against the same steps on the CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KimiLinearLM, Tensor, loadModelConfig, moe, scope } from '../../src';
import type { MoeRouteOptions } from '../../src/ops/moe';
import { Trainer } from '../../src/train';
import { TaskSource } from '../../src/data';
import { randn, rmsRel } from '../helpers';
import { recursiveSettings, task, trainerConfig } from '../recursive-fixtures';

let seed = 1;
const rand = (shape: number[], scale = 1) => Tensor.from(randn(shape.reduce((a, b) => a * b, 1), seed++, scale), shape);

function same(name: string, ref: Tensor, x: Tensor, tol = 1e-5) {
  assert.ok(x.device.startsWith('cuda'), `${name}: result left the GPU`);
  assert.deepEqual(x.shape, ref.shape, `${name}: shape`);
  if (ref.dtype === 'i32') {
    assert.deepEqual(Array.from(x.toInt32Array()), Array.from(ref.toInt32Array()), `${name}: values`);
    return;
  }
  const e = rmsRel(ref.toFloat32Array(), x.toFloat32Array());
  assert.ok(e <= tol, `${name}: RMS-relative error ${e.toExponential(3)} > ${tol}`);
}

const cases: { N: number; E: number; d: number; I: number; bias: boolean; opts: MoeRouteOptions }[] = [
  { N: 37, E: 7, d: 24, I: 20, bias: true, opts: { topK: 3, scale: 2.5 } },
  { N: 129, E: 12, d: 33, I: 17, bias: false, opts: { topK: 4, numGroups: 4, topkGroup: 2, renormalize: false, activation: 'softmax' } },
  { N: 300, E: 10, d: 64, I: 48, bias: true, opts: { topK: 5, numGroups: 5, topkGroup: 3, scale: 0.7, activation: 'softmax' } },
  { N: 1000, E: 64, d: 96, I: 80, bias: true, opts: { topK: 6, numGroups: 8, topkGroup: 4 } },
];

for (const c of cases) {
  const { N, E, d, I, opts } = c;
  test(`moe route/experts (+ backward) on cuda match the cpu: N=${N} E=${E} k=${opts.topK} groups=${opts.numGroups ?? 1}`, () => {
    scope(() => {
      const logits = rand([N, E]);
      // with a bias, expert E-2 never wins: an expert with no token
      const biasT = c.bias ? Tensor.from(randn(E, seed++, 0.3).map((v, i) => (i === E - 2 ? -100 : v)), [E]) : null;
      const r = moe.route(logits, biasT, opts);
      const rg = moe.route(logits.to('cuda'), biasT?.to('cuda') ?? null, opts);
      same('route.indices', r.indices, rg.indices);
      same('route.scores', r.scores, rg.scores);
      same('route.weights', r.weights, rg.weights);
      const dW = rand([N, opts.topK]);
      const ropts = { renormalize: opts.renormalize, scale: opts.scale, activation: opts.activation };
      same('routeBackward', moe.routeBackward(dW, r.scores, r.indices, ropts), moe.routeBackward(dW.to('cuda'), rg.scores, rg.indices, ropts));

      const x = rand([N, d]), gu = rand([E, 2 * I, d], 0.2), dn = rand([E, d, I], 0.2), dy = rand([N, d]);
      const e = moe.experts(x, gu, dn, r.indices, r.weights);
      const g = (t: Tensor) => t.to('cuda');
      const eg = moe.experts(g(x), g(gu), g(dn), rg.indices, rg.weights);
      for (const k of ['y', 'h', 'ye'] as const) same(`experts.${k}`, e[k], eg[k]);
      const b = moe.expertsBackward(dy, x, gu, dn, r.indices, r.weights, e.h, e.ye);
      const bg = moe.expertsBackward(g(dy), g(x), g(gu), g(dn), rg.indices, rg.weights, eg.h, eg.ye);
      for (const k of ['dx', 'dGateUp', 'dDown', 'dWeights'] as const) same(`expertsBackward.${k}`, b[k], bg[k]);
      if (c.bias) assert.ok(!Array.from(r.indices.toInt32Array()).includes(E - 2), 'expert E-2 should receive no token');
      // bit-identical run to run (no float atomics)
      const again = moe.experts(g(x), g(gu), g(dn), rg.indices, rg.weights);
      assert.deepEqual(again.y.toFloat32Array(), eg.y.toFloat32Array(), 'experts.y changed between runs');
    });
  });
}

test('a bad expert index on cuda is reported by the op, naming the entry', () => {
  scope(() => {
    const x = rand([4, 3]).to('cuda'), gu = rand([2, 10, 3]).to('cuda'), dn = rand([2, 3, 5]).to('cuda');
    const w = rand([4, 1]).to('cuda');
    const idx = Tensor.from(new Int32Array([0, 1, 2, 0]), [4, 1]).to('cuda');
    assert.throws(() => moe.experts(x, gu, dn, idx, w), /moeExperts: indices: entry 2 is 2, expected an expert index in 0\.\.1/);
  });
});

test('kimi-tiny (MLA + MoE + KDA) trains on cuda like on the cpu', () => {
  scope(() => {
    const make = (device: 'cpu' | 'cuda') =>
      new Trainer({
        model: new KimiLinearLM(loadModelConfig('kimi-tiny'), { seed: 1 }),
        recursive: recursiveSettings({ recursive_enabled: false }),
        config: trainerConfig({ phase: 'baseline', num_steps: 6 }),
        train: new TaskSource(task, 5),
        device,
        precision: 'fp32',
      });
    const cpu = make('cpu');
    const gpu = make('cuda');
    const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a));
    for (let i = 0; i < 4; i++) {
      const a = cpu.trainStep();
      const b = gpu.trainStep();
      for (const k of ['train/loss', 'train/grad_norm'])
        assert.ok(close(a[k], b[k], 1e-3), `step ${i + 1} ${k}: cpu ${a[k]} cuda ${b[k]}`);
    }
    for (const t of [cpu, gpu]) {
      t.dispose();
      t.model.dispose();
    }
  });
});
