// A leaf takes its gradient tensor without a copy when the backward pass owns it alone
// (src/tensor/autograd.ts); these cases check that it never takes one that something else still uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Parameter, Tensor, ag, backward, memory, ops, scope } from '../src';

const vals = (t: Tensor | null) => [...t!.toFloat32Array()];

test('one gradient tensor reaching two leaves gives each its own buffer', () => {
  const a = new Parameter('a', Tensor.from([1, 2, 3], [3]));
  const b = new Parameter('b', Tensor.from([4, 5, 6], [3]));
  const dy = Tensor.from([1, 10, 100], [3]);
  scope(() => backward(ag.add(a, b), dy)); // add passes dOut itself to both inputs
  assert.deepEqual(vals(a.grad), [1, 10, 100]);
  assert.deepEqual(vals(b.grad), [1, 10, 100]);
  ops.addInPlace(a.grad!, Tensor.from([1, 1, 1], [3]));
  assert.deepEqual(vals(b.grad), [1, 10, 100], 'b.grad must not share a.grad storage');
  assert.deepEqual(vals(dy), [1, 10, 100], 'dRoot is never handed out');
  [a, b, dy].forEach((t) => t.dispose());
});

test('a gradient that is a reshape view: taken once no other handle shares it; accumulation stays correct', () => {
  const x = new Parameter('x', Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]));
  const w = new Parameter('w', Tensor.from([1, 1, 1, 1, 1, 1], [6]));
  const dy = Tensor.from([1, 2, 3, 4, 5, 6], [6]);
  for (let step = 1; step <= 3; step++) {
    // y = reshape(x) * w + w: x gets a view-shaped product, w gets two contributions
    scope(() => backward(ag.add(ag.mul(ag.reshape(x, [6]), w), w), dy));
    assert.deepEqual(vals(x.grad), [1, 2, 3, 4, 5, 6].map((v) => v * step));
    assert.deepEqual(vals(w.grad), [1, 2, 3, 4, 5, 6].map((v, i) => (v * (i + 1) + v) * step));
  }
  assert.deepEqual(vals(dy), [1, 2, 3, 4, 5, 6]);
  const before = memory().liveTensors;
  x.zeroGrad();
  w.zeroGrad();
  assert.equal(memory().liveTensors, before - 2);
  [x, w, dy].forEach((t) => t.dispose());
});

test('a leaf gradient outlives the scope and other leaves of the same pass', () => {
  const p = new Parameter('p', Tensor.from([2, 3], [2]));
  const q = new Parameter('q', Tensor.from([5, 7], [2]));
  scope(() => backward(ag.sum(ag.mul(p, q))));
  assert.deepEqual(vals(p.grad), [5, 7]);
  assert.deepEqual(vals(q.grad), [2, 3]);
  q.zeroGrad();
  assert.deepEqual(vals(p.grad), [5, 7]);
  [p, q].forEach((t) => t.dispose());
});
