import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Parameter, Tensor, Var, ag, backward, memory, noGrad, ops, scope } from '../src';

const vals = (t: Tensor | null) => [...t!.toFloat32Array()];

test('a value used twice gets the sum of both paths; leaf gradients accumulate across backward calls', () => {
  const x = new Parameter('x', Tensor.from([1, 2, 3], [3]));
  scope(() => {
    // L = Σ (x·x + 3x) → dL/dx = 2x + 3
    const y = ag.add(ag.mul(x, x), ag.scale(x, 3));
    backward(ag.sum(y));
  });
  assert.deepEqual(vals(x.grad), [5, 7, 9]);
  scope(() => backward(ag.sum(ag.add(x, x)))); // + 2
  assert.deepEqual(vals(x.grad), [7, 9, 11]);
  x.zeroGrad();
  assert.equal(x.grad, null);
  x.dispose();
});

test('noGrad records nothing; frozen parameters never get a gradient buffer', () => {
  const w = new Parameter('w', Tensor.from([1, 2], [2]));
  const frozen = new Parameter('f', Tensor.from([3, 4], [2]), { requiresGrad: false });
  noGrad(() => {
    const y = ag.mul(w, w);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.node, null);
  });
  scope(() => {
    const y = ag.sum(ag.mul(w, frozen));
    backward(y);
  });
  assert.deepEqual(vals(w.grad), [3, 4]);
  assert.equal(frozen.grad, null);
  scope(() => {
    const y = ag.mul(frozen, frozen);
    assert.equal(y.requiresGrad, false);
    assert.throws(() => backward(ag.sum(y)), /does not require a gradient/);
  });
  w.setRequiresGrad(false);
  assert.equal(w.grad, null);
  w.dispose();
  frozen.dispose();
});

test('backward checks its root: scalar unless dRoot is given, and dRoot shape must match', () => {
  const w = new Parameter('w', Tensor.from([1, 2], [2]));
  scope(() => {
    const y = ag.scale(w, 2);
    assert.throws(() => backward(y), /pass dRoot/);
    assert.throws(() => backward(y, Tensor.from([1], [1])), /dRoot has shape/);
    backward(y, Tensor.from([1, -1], [2]));
  });
  assert.deepEqual(vals(w.grad), [2, -2]);
  w.dispose();
});

test('a training-like step inside scope() does not grow memory over 1000 steps', () => {
  const w1 = new Parameter('w1', Tensor.from(new Float32Array(64).map((_, i) => Math.sin(i)), [8, 8]));
  const w2 = new Parameter('w2', Tensor.from(new Float32Array(8).fill(1), [8]));
  const x = Tensor.from(new Float32Array(32).map((_, i) => Math.cos(i)), [4, 8]);
  const targets = Tensor.from(new Int32Array([1, 2, 3, 4]), [4]);
  const step = () =>
    scope(() => {
      const h = ag.silu(ag.rmsnorm(ag.linear(new Var(x), w1), w2, 1e-5));
      const loss = ag.crossEntropy(h, targets);
      backward(loss);
      return loss.data.toFloat32Array()[0];
    });
  step(); // parameter gradients are allocated on the first step and reused
  const before = memory();
  for (let i = 0; i < 1000; i++) step();
  const after = memory();
  assert.equal(after.hostBytes, before.hostBytes);
  assert.equal(after.liveStorages, before.liveStorages);
  for (const t of [w1, w2]) t.dispose();
  x.dispose();
  targets.dispose();
});

test('x feeding two projections: the second dX is added in place into the first (one buffer, same sum); dRoot is left as given', () => {
  const [T, d, n1, n2] = [6, 5, 4, 3];
  const data = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s));
  const w1 = new Parameter('w1', Tensor.from(data(n1 * d, 1), [n1, d]));
  const w2 = new Parameter('w2', Tensor.from(data(n2 * d, 2), [n2, d]));
  const x = new Var(Tensor.from(data(2 * T * d, 3), [2, T, d]), true);
  const dy = Tensor.from(data(2 * T * (n1 + n2), 4), [2, T, n1 + n2]);
  const before = vals(dy);
  scope(() => backward(ag.concat([ag.linear(x, w1), ag.linear(x, w2)], 2), dy));
  // reference: dx = dy1·W1 + dy2·W2 in float64
  const g = vals(dy), W1 = vals(w1.data), W2 = vals(w2.data), dx = vals(x.grad);
  for (let r = 0; r < 2 * T; r++)
    for (let k = 0; k < d; k++) {
      let s = 0;
      for (let j = 0; j < n1; j++) s += g[r * (n1 + n2) + j] * W1[j * d + k];
      for (let j = 0; j < n2; j++) s += g[r * (n1 + n2) + n1 + j] * W2[j * d + k];
      assert.ok(Math.abs(dx[r * d + k] - s) < 1e-5, `dx[${r},${k}] = ${dx[r * d + k]}, expected ${s}`);
    }
  assert.equal(dy.disposed, false);
  assert.deepEqual(vals(dy), before);
  // the same backward through a leaf root: its gradient is a copy, not the caller's dRoot
  const leaf = new Var(Tensor.from([1, 2], [2]), true);
  const d2 = Tensor.from([3, 4], [2]);
  backward(leaf, d2);
  assert.notEqual(leaf.grad, d2);
  assert.deepEqual(vals(leaf.grad), [3, 4]);
  for (const t of [dy, d2]) t.dispose();
  for (const v of [w1, w2]) v.dispose();
  x.zeroGrad();
  leaf.zeroGrad();
});

test('two slices of one value: the second slice gradient is added in place into the first (same result as separate adds)', () => {
  const x = new Var(Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]), true);
  const c = Tensor.from([10, 20, 30, 40, 50, 60], [2, 3]);
  scope(() => {
    const a = ag.slice(x, 1, 0, 2), b = ag.slice(x, -1, 1, 3);
    backward(ag.add(ag.sum(ag.mul(a, new Var(ops.slice(c, 1, 0, 2)))), ag.sum(ag.mul(b, new Var(ops.slice(c, 1, 1, 3))))));
  });
  assert.deepEqual(vals(x.grad), [10, 40, 30, 40, 100, 60]);
  x.zeroGrad();
  c.dispose();
});
