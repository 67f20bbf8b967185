import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops } from '../src';
import { numel, rand } from './ops-ref';

/** Element of a contiguous array at a multi-index. */
const at = (x: ArrayLike<number>, shape: number[], idx: number[]) => x[idx.reduce((o, v, d) => o * shape[d] + v, 0)];
function* indices(shape: number[]): Generator<number[]> {
  const n = numel(shape);
  for (let i = 0; i < n; i++) {
    const idx = new Array(shape.length);
    let r = i;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = r % shape[d];
      r = Math.floor(r / shape[d]);
    }
    yield idx;
  }
}

test('concat along every dimension, f32 and i32', () => {
  for (const dim of [0, 1, 2, -1]) {
    const d = dim < 0 ? dim + 3 : dim;
    const shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]].map((s, i) => s.map((v, j) => (j === d ? v + i : v)));
    const parts = shapes.map((s, i) => rand(s, i + 1));
    const y = ops.concat(parts.map((p) => p.t), dim);
    const ys = shapes[0].map((v, j) => (j === d ? shapes.reduce((a, s) => a + s[j], 0) : v));
    assert.deepEqual(y.shape, ys);
    const yv = y.toFloat32Array();
    for (const idx of indices(ys)) {
      let i = 0, off = idx[d];
      while (off >= shapes[i][d]) off -= shapes[i++][d];
      const src = idx.slice();
      src[d] = off;
      assert.equal(at(yv, ys, idx), at(parts[i].data, shapes[i], src));
    }
  }
  const a = Tensor.from(new Int32Array([1, 2]), [2]), b = Tensor.from(new Int32Array([3]), [1]);
  assert.deepEqual([...ops.concat([a, b], 0).toInt32Array()], [1, 2, 3]);
  assert.throws(() => ops.concat([rand([2, 3], 1).t, rand([3, 3], 2).t], 1), /tensors\[1\]: shape \[3,3\] must match tensors\[0\] \[2,3\] except along dim 1/);
  assert.throws(() => ops.concat([a, rand([1], 1).t], 0), /tensors\[1\]: expected dtype i32, got f32/);
});

test('slice and sliceBackward', () => {
  const x = rand([3, 5, 4], 1);
  for (const [dim, start, end] of [[1, 1, 4], [0, 0, 3], [2, -3, -1], [1, 2, 2], [-1, 0, 4]]) {
    const d = dim < 0 ? dim + 3 : dim;
    const n = x.t.shape[d];
    const s0 = start < 0 ? start + n : start, e0 = end < 0 ? end + n : end;
    const y = ops.slice(x.t, dim, start, end);
    const ys = x.t.shape.map((v, j) => (j === d ? e0 - s0 : v));
    assert.deepEqual(y.shape, ys);
    const yv = y.toFloat32Array();
    for (const idx of indices(ys)) {
      const src = idx.slice();
      src[d] += s0;
      assert.equal(at(yv, ys, idx), at(x.data, [3, 5, 4], src));
    }
    const back = ops.sliceBackward(y, [3, 5, 4], dim, s0).toFloat32Array();
    for (const idx of indices([3, 5, 4])) {
      const inside = idx[d] >= s0 && idx[d] < e0;
      assert.equal(at(back, [3, 5, 4], idx), inside ? at(x.data, [3, 5, 4], idx) : 0);
    }
  }
  assert.throws(() => ops.slice(x.t, 1, 2, 6), /start\/end: slice \[2, 6\) is invalid for dim 1 of size 5/);
  assert.throws(() => ops.slice(x.t, 3, 0, 1), /dim: dimension 3 is out of range for a 3-D tensor/);
  assert.throws(() => ops.sliceBackward(rand([3, 2, 4], 2).t, [3, 5, 4], 1, 4), /dy: shape \[3,2,4\] at start 4 along dim 1 does not fit inputShape \[3,5,4\]/);
});

test('transpose materialises any pair of dimensions (f32 and i32)', () => {
  const shape = [2, 3, 4, 5];
  const x = rand(shape, 3);
  for (const [a, b] of [[0, 1], [1, 3], [-1, -2], [0, 3], [2, 2]]) {
    const da = a < 0 ? a + 4 : a, db = b < 0 ? b + 4 : b;
    const y = ops.transpose(x.t, a, b);
    const ys = shape.slice();
    [ys[da], ys[db]] = [ys[db], ys[da]];
    assert.deepEqual(y.shape, ys);
    const yv = y.toFloat32Array();
    for (const idx of indices(ys)) {
      const src = idx.slice();
      [src[da], src[db]] = [src[db], src[da]];
      assert.equal(at(yv, ys, idx), at(x.data, shape, src));
    }
  }
  const i = Tensor.from(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.deepEqual([...ops.transpose(i, 0, 1).toInt32Array()], [1, 4, 2, 5, 3, 6]);
});
