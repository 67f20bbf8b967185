import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recursiveLoss, DEFAULT_LOSS_WEIGHTS, lossWeightsFromConfig, refinedLayers } from '../src/recursive';
import type { RecursiveLossInputs, LossWeights } from '../src/recursive';
import { IGNORE_INDEX } from '../src/data';
import { randn } from './helpers';

const near = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

// B=1, W=2, V=2, K=2, hand-computed below.
function handExample(): RecursiveLossInputs {
  const l3 = Math.log(3);
  return {
    B: 1,
    W: 2,
    V: 2,
    logits: [new Float64Array([0, 0, l3, 0]), new Float64Array([0, l3, 0, 0])],
    haltLogits: [new Float64Array([0]), new Float64Array([l3])],
    lengthLogits: new Float64Array([0, 0, 0]),
    maxLen: 2,
    targets: new Int32Array([1, 0]),
    corrupted: new Uint8Array([1, 0]),
    lengths: new Int32Array([2]),
  };
}

test('each loss term equals its hand-computed value; each lambda applied once', () => {
  const r = recursiveLoss(handExample());
  const { LN2, log } = Math;
  // final_ce: step 2 row 0 softmax [1/4, 3/4] target 1 -> ln(4/3); row 1 [1/2,1/2] target 0 -> ln 2
  near(r.terms.final_ce, (log(4 / 3) + LN2) / 2);
  // masked_ce: K=2 -> only step 1 (weight 1) on the corrupted row 0: logits [0,0] -> ln 2
  near(r.terms.masked_ce, LN2);
  // halt: step 1 argmax(row0)=0 != 1 -> y=0, BCE(sigmoid 0, 0) = ln 2; step 2 all correct -> y=1,
  // BCE(sigmoid ln3 = 3/4, 1) = ln(4/3)
  assert.deepEqual(r.haltTargets.map((y) => [...y]), [[0], [1]]);
  near(r.terms.halt, (LN2 + log(4 / 3)) / 2);
  // length: uniform over 0..2, target 2 -> ln 3
  near(r.terms.length, log(3));
  // ponder: p1 = 1/2 -> E = 1 + (1 - p1) = 1.5 (p_K does not matter: forced halt at K)
  near(r.terms.ponder, 1.5);
  // stability: uncorrupted row 1: [3/4,1/4] vs [1/2,1/2] -> mean |diff| = 1/4
  near(r.terms.stability, 0.25);
  const w = DEFAULT_LOSS_WEIGHTS;
  near(r.total, w.final * r.terms.final_ce + w.masked * r.terms.masked_ce + w.halt * r.terms.halt + w.length * r.terms.length + w.ponder * r.terms.ponder + w.stability * r.terms.stability);
  near(r.tokenAccuracy, 1);
  // lambdas scale their own term only
  const only = (k: keyof LossWeights): LossWeights => ({ final: 0, masked: 0, halt: 0, length: 0, ponder: 0, stability: 0, [k]: 2 });
  for (const [k, t] of [
    ['final', 'final_ce'],
    ['masked', 'masked_ce'],
    ['halt', 'halt'],
    ['length', 'length'],
    ['ponder', 'ponder'],
    ['stability', 'stability'],
  ] as const)
    near(recursiveLoss(handExample(), only(k)).total, 2 * r.terms[t]);
});

test('masked_ce weights 1/k normalised over the intermediate steps; ponder with K=3', () => {
  const inp = handExample();
  const l3 = Math.log(3);
  // K=3: steps 1 and 2 intermediate with weights (1, 1/2) / 1.5; step 2 row 0 is [0, ln3] -> ln(4/3)
  inp.logits = [inp.logits[0], inp.logits[1], new Float64Array([0, 5, 5, 0])];
  inp.haltLogits = [new Float64Array([0]), new Float64Array([0]), new Float64Array([l3])];
  const r = recursiveLoss(inp);
  near(r.terms.masked_ce, (2 / 3) * Math.LN2 + (1 / 3) * Math.log(4 / 3));
  near(r.terms.ponder, 1 + 0.5 + 0.25);
});

test('mask-aware: no corrupted or no valid positions gives 0, never NaN; K=1 has no masked/stability', () => {
  const inp = handExample();
  inp.corrupted = new Uint8Array([0, 0]);
  const r = recursiveLoss(inp);
  assert.equal(r.terms.masked_ce, 0);
  assert.ok(Number.isFinite(r.total));
  inp.targets = new Int32Array([IGNORE_INDEX, IGNORE_INDEX]);
  const r2 = recursiveLoss(inp);
  assert.equal(r2.terms.final_ce, 0);
  assert.equal(r2.terms.stability, 0);
  assert.ok(Number.isFinite(r2.total));
  assert.ok(r2.grads.logits.every((g) => g.every((x) => x === 0)));
  const one = handExample();
  one.logits = [one.logits[1]];
  one.haltLogits = [one.haltLogits[1]];
  const r3 = recursiveLoss(one);
  assert.equal(r3.terms.masked_ce, 0);
  assert.equal(r3.terms.stability, 0);
  near(r3.terms.ponder, 1);
  assert.throws(() => recursiveLoss({ ...one, haltLogits: [] }), /haltLogits: expected 1 steps/);
  assert.throws(() => recursiveLoss({ ...one, targets: new Int32Array([7, 0]) }), /targets\[0\]/);
});

test('gradients of the total match central finite differences (float64)', () => {
  const B = 2, W = 3, V = 5, K = 3, L = 3;

  const inp: RecursiveLossInputs = {
    B, W, V,
    logits: Array.from({ length: K }, (_, k) => Float64Array.from(randn(B * W * V, 10 + k))),
    haltLogits: Array.from({ length: K }, (_, k) => Float64Array.from(randn(B, 20 + k))),
    lengthLogits: Float64Array.from(randn(B * (L + 1), 30)),
    maxLen: L,
    targets: new Int32Array([1, 4, IGNORE_INDEX, 0, 2, 3]),
    corrupted: new Uint8Array([1, 0, 0, 0, 1, 1]),
    lengths: new Int32Array([2, 5]),
  };
  // make step 3 predict row 1 exactly so a halting target is 1 somewhere
  for (let j = 0; j < W; j++) (inp.logits[2] as Float64Array)[(W + j) * V + inp.targets[W + j]] += 10;

  const lam: LossWeights = { final: 1, masked: 0.7, halt: 0.5, length: 0.3, ponder: 0.9, stability: 0.8 };
  const r = recursiveLoss(inp, lam);
  assert.ok(r.haltTargets[2][1] === 1);
  const h = 1e-6;
  const check = (arr: ArrayLike<number>, grad: Float64Array, name: string) => {
    for (let i = 0; i < arr.length; i++) {
      const x = arr[i];
      (arr as Float64Array)[i] = x + h;
      const up = recursiveLoss(inp, lam).total;
      (arr as Float64Array)[i] = x - h;
      const dn = recursiveLoss(inp, lam).total;
      (arr as Float64Array)[i] = x;
      const fd = (up - dn) / (2 * h);
      assert.ok(Math.abs(fd - grad[i]) < 1e-7 + 1e-6 * Math.abs(fd), `${name}[${i}]: analytic ${grad[i]} vs fd ${fd}`);
    }
  };
  inp.logits.forEach((l, k) => check(l as Float64Array, r.grads.logits[k], `logits[${k}]`));
  inp.haltLogits.forEach((l, k) => check(l as Float64Array, r.grads.haltLogits[k], `haltLogits[${k}]`));
  check(inp.lengthLogits as Float64Array, r.grads.lengthLogits!, 'lengthLogits');
  // ponder is differentiable: its gradient alone is non-zero on the first K-1 steps
  const p = recursiveLoss(inp, { final: 0, masked: 0, halt: 0, length: 0, ponder: 1, stability: 0 });
  assert.ok(p.grads.haltLogits[0].some((g) => g < 0) && p.grads.haltLogits[1].some((g) => g < 0));
  assert.ok(p.grads.haltLogits[2].every((g) => g === 0));
});

test('refinedLayers: all, explicit indices deduplicated and sorted, out of range named', () => {
  assert.deepEqual(refinedLayers('all', 3), [0, 1, 2]);
  assert.deepEqual(refinedLayers([2, 0, 2], 3), [0, 2]);
  assert.throws(() => refinedLayers([5], 3), /layers_to_refine: indices 5 out of range/);
  assert.deepEqual(lossWeightsFromConfig({ lambda_final: 1.0, lambda_masked: 0.5, lambda_halt: 0.5, lambda_len: 0.05, lambda_ponder: 0.01, lambda_stability: 0.01 }), DEFAULT_LOSS_WEIGHTS);
});

test('halt target: 1 when no later step predicts more of the row correctly (not: the whole row correct)', () => {
  // B=3 rows, W=2, V=2, K=3. Targets [0, 0] per row. c_k[b] = correct predictions of row b at step k.
  const row = (a: number, b: number) => [a === 0 ? 1 : 0, a === 0 ? 0 : 1, b === 0 ? 1 : 0, b === 0 ? 0 : 1]; // argmaxes a, b
  // row 0: c = 0, 1, 1 (refinement helps once); row 1: c = 1, 1, 1 (never perfect, never improves);
  // row 2: c = 2, 1, 1 (step 1 perfect, later steps worse)
  // steps[k][b]: step k, row b
  const steps = [[row(1, 1), row(0, 1), row(0, 0)], [row(0, 1), row(1, 0), row(0, 1)], [row(1, 0), row(0, 1), row(1, 0)]];
  const r = recursiveLoss({
    B: 3,
    W: 2,
    V: 2,
    logits: steps.map((s) => Float64Array.from(s.flat())),
    haltLogits: steps.map(() => new Float64Array(3)),
    lengthLogits: null,
    maxLen: 2,
    targets: new Int32Array([0, 0, 0, 0, 0, 0]),
    corrupted: new Uint8Array(6),
    lengths: new Int32Array([2, 2, 2]),
  });
  assert.deepEqual(r.haltTargets.map((y) => [...y]), [[0, 1, 1], [1, 1, 1], [1, 1, 1]]);
});
