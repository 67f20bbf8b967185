// The one place that maps a device to kernels (src/native/route.ts): device names, the CPU export or its CUDA twin,
// and syncCheck on the CPU. What the CUDA side does without a GPU is test/cuda-exports.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops, syncCheck } from '../src';
import { backendOf, kernelFor } from '../src/native';
import { native } from '../src/native/loader';

test('backendOf maps device names and refuses others with the allowed forms', () => {
  assert.equal(backendOf('cpu'), 'cpu');
  assert.equal(backendOf('cuda'), 'cuda');
  assert.equal(backendOf('cuda:3'), 'cuda');
  for (const d of ['gpu', 'cuda:', 'cuda:x', 'CPU', '']) assert.throws(() => backendOf(d), /device: unknown device .* \(allowed: cpu, cuda, cuda:N\)/);
});

test('kernelFor picks the CPU export, or the Cuda twin, and names what is missing', () => {
  assert.equal(kernelFor('matmul', 'cpu'), native().matmul);
  assert.throws(() => kernelFor('noSuchOp', 'cpu'), /has no op 'noSuchOp'/);
  if (!native().buildInfo().cuda) {
    assert.throws(() => kernelFor('matmul', 'cuda:0'), /a tensor is on cuda:0 but the loaded addon .* is a CPU build/);
  }
});

test('ops route by their first tensor; syncCheck is a no-op on the CPU', () => {
  const a = Tensor.from([1, 2, 3, 4], [2, 2]);
  assert.deepEqual(Array.from(ops.matmul(a, a).toFloat32Array()), [7, 10, 15, 22]);
  assert.doesNotThrow(() => syncCheck('cpu'));
  assert.throws(() => syncCheck('tpu'), /unknown device "tpu"/);
});

test('clipGradNorm on the CPU: the norm before clipping, grads scaled above the limit only', () => {
  const g = [Tensor.from([3, 0], [2]), Tensor.from([4], [1])];
  const n = ops.clipGradNorm(g, 1);
  assert.deepEqual(n.shape, [1]);
  assert.equal(n.toFloat32Array()[0], 5);
  const f = 1 / (5 + 1e-6);
  assert.deepEqual(Array.from(g[0].toFloat32Array()), [Math.fround(3 * Math.fround(f)), 0]);
  assert.equal(ops.clipGradNorm(g, 10).toFloat32Array()[0], Math.fround(Math.hypot(...g.flatMap((t) => Array.from(t.toFloat32Array())))));
  assert.equal(ops.clipGradNorm([], null).toFloat32Array()[0], 0);
  assert.throws(() => ops.clipGradNorm(g, 0), /maxNorm: expected a finite number > 0 or null, got 0/);
  assert.equal(ops.sumSquaresScalar(g).toFloat32Array()[0], Math.fround(ops.sumSquares(g)));
});
