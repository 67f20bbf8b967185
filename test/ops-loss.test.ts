import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops } from '../src';
import { assertClose } from './helpers';
import { assertSameBits, rand, vals } from './ops-ref';

test('cross-entropy forward/backward with ignore index match float64 (odd vocabulary)', () => {
  const [N, V] = [7, 1001];
  const x = rand([N, V], 1, 3);
  const tv = [5, -100, 1000, 0, 17, -100, 999];
  const targets = Tensor.from(new Int32Array(tv), [N]);
  const { loss, lse } = ops.crossEntropy(x.t, targets);
  const refLoss = new Float64Array(N), refLse = new Float64Array(N), refGrad = new Float64Array(N * V);
  const dLoss = rand([N], 2);
  for (let n = 0; n < N; n++) {
    const row = x.x.subarray(n * V, n * V + V);
    const m = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - m);
    refLse[n] = m + Math.log(z);
    if (tv[n] === -100) continue;
    refLoss[n] = refLse[n] - row[tv[n]];
    for (let j = 0; j < V; j++) refGrad[n * V + j] = dLoss.x[n] * (Math.exp(row[j] - refLse[n]) - (j === tv[n] ? 1 : 0));
  }
  assertClose('loss', refLoss, vals(loss), 1e-6);
  assertClose('lse', refLse, vals(lse), 1e-6);
  assert.equal(loss.toFloat32Array()[1], 0);
  const dx = ops.crossEntropyBackward(dLoss.t, x.t, targets, lse);
  assertClose('dLogits', refGrad, vals(dx), 1e-5);
  assert.ok(dx.toFloat32Array().subarray(V, 2 * V).every((v) => v === 0), 'ignored rows get zero gradient');
  assertSameBits('dLogits rerun', dx.toFloat32Array(), ops.crossEntropyBackward(dLoss.t, x.t, targets, lse).toFloat32Array());
});

test('cross-entropy honours a custom ignoreIndex and names bad targets', () => {
  const x = rand([3, 4], 3);
  const t = Tensor.from(new Int32Array([1, 3, 3]), [3]);
  const { loss, lse } = ops.crossEntropy(x.t, t, { ignoreIndex: 3 });
  const l = loss.toFloat32Array();
  assert.ok(l[0] > 0 && l[1] === 0 && l[2] === 0);
  const dx = ops.crossEntropyBackward(Tensor.from([1, 1, 1], [3]), x.t, t, lse, { ignoreIndex: 3 }).toFloat32Array();
  assert.ok(dx.subarray(4).every((v) => v === 0));
  assert.throws(() => ops.crossEntropy(x.t, Tensor.from(new Int32Array([0, 4, 1]), [3])), /targets: target 4 at row 1 is out of range \[0, 4\)/);
  assert.throws(() => ops.crossEntropy(x.t, Tensor.from(new Int32Array([0, 1]), [2])), /targets: expected shape \[N\] = \[3\], got \[2\]/);
  assert.throws(() => ops.crossEntropy(x.t, Tensor.from([0, 1, 2], [3])), /targets: expected dtype i32/);
});
