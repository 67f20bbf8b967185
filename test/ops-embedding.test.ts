import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops } from '../src';
import { assertClose } from './helpers';
import { assertSameBits, rand, vals } from './ops-ref';

test('embedding gathers rows and its backward scatter-adds repeated ids', () => {
  const [V, D] = [11, 70];
  const w = rand([V, D], 1);
  const idv = [3, 0, 10, 3, 3, 7, 0];
  const ids = Tensor.from(new Int32Array(idv), [7]).reshape([7]);
  const ids2 = Tensor.from(new Int32Array(idv.concat([1])), [2, 4]);
  const y = ops.embedding(w.t, ids2);
  assert.deepEqual(y.shape, [2, 4, D]);
  const yv = vals(y);
  idv.concat([1]).forEach((id, n) => assertClose(`row ${n}`, w.x.subarray(id * D, id * D + D), yv.subarray(n * D, n * D + D), 0));
  const dOut = rand([7, D], 2);
  const dw = ops.embeddingBackward(dOut.t, ids, V);
  assert.deepEqual(dw.shape, [V, D]);
  const ref = new Float64Array(V * D);
  idv.forEach((id, n) => {
    for (let j = 0; j < D; j++) ref[id * D + j] += dOut.x[n * D + j];
  });
  assertClose('embeddingBackward', ref, vals(dw), 1e-7);
  assertSameBits('embeddingBackward rerun', dw.toFloat32Array(), ops.embeddingBackward(dOut.t, ids, V).toFloat32Array());
});

test('embedding rejects out-of-range ids and mismatched shapes by name', () => {
  const w = rand([5, 3], 1).t;
  assert.throws(() => ops.embedding(w, Tensor.from(new Int32Array([1, 5]), [2])), /ids: id 5 at position 1 is out of range \[0, 5\)/);
  assert.throws(() => ops.embedding(w, Tensor.from([1, 2], [2])), /ids: expected dtype i32, got f32/);
  assert.throws(() => ops.embeddingBackward(rand([3, 3], 2).t, Tensor.from(new Int32Array([1, 2]), [2]), 5), /dOut: expected shape \[\.\.\.ids\.shape, D\]/);
  assert.throws(() => ops.embeddingBackward(rand([2, 3], 2).t, Tensor.from(new Int32Array([1, -1]), [2]), 5), /ids: id -1/);
});
