import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops } from '../src';
import { assertClose } from './helpers';
import { assertSameBits, F64, numel, rand, vals } from './ops-ref';

/** float64 reduction of x (shape) over the dims in `red` (kept as size 1). */
function reduceRef(x: F64, shape: number[], red: Set<number>): F64 {
  const oshape = shape.map((d, i) => (red.has(i) ? 1 : d));
  const out = new Float64Array(numel(oshape));
  const nd = shape.length;
  for (let i = 0; i < x.length; i++) {
    let r = i, o = 0, mul = 1;
    for (let d = nd - 1; d >= 0; d--) {
      const idx = r % shape[d];
      r = Math.floor(r / shape[d]);
      o += (red.has(d) ? 0 : idx) * mul;
      mul *= oshape[d];
    }
    out[o] += x[i];
  }
  return out;
}

test('sum and mean over dims, keepDim, and over everything', () => {
  const shape = [3, 4, 5, 2];
  const x = rand(shape, 1);
  const cases: (number | number[] | undefined)[] = [0, 1, -1, [0, 2], [1, 3], [0, 1, 2, 3], undefined, [2]];
  for (const dim of cases) {
    const dims = dim === undefined ? [0, 1, 2, 3] : (Array.isArray(dim) ? dim : [dim]).map((d) => (d < 0 ? d + 4 : d));
    const red = new Set(dims);
    const ref = reduceRef(x.x, shape, red);
    const count = dims.reduce((a, d) => a * shape[d], 1);
    for (const keepDim of [false, true]) {
      const s = ops.sum(x.t, { dim, keepDim }), m = ops.mean(x.t, { dim, keepDim });
      const want = keepDim ? shape.map((d, i) => (red.has(i) ? 1 : d)) : shape.filter((_, i) => !red.has(i));
      assert.deepEqual(s.shape, want, `sum dim=${JSON.stringify(dim)} keepDim=${keepDim}`);
      assert.deepEqual(m.shape, want);
      assertClose(`sum ${JSON.stringify(dim)}`, ref, vals(s), 1e-6);
      assertClose(`mean ${JSON.stringify(dim)}`, ref.map((v) => v / count), vals(m), 1e-6);
    }
  }
  assert.throws(() => ops.sum(x.t, { dim: 4 }), /dim: dimension 4 is out of range for a 4-D tensor/);
});

test('sumToShape undoes broadcasting for every pattern', () => {
  const shape = [2, 3, 4];
  const x = rand(shape, 2);
  const targets = [[4], [3, 1], [2, 1, 4], [1], [], [2, 3, 4], [1, 3, 4], [2, 3, 1], [1, 1, 1], [3, 4]];
  for (const t of targets) {
    const padded = [...Array(shape.length - t.length).fill(1), ...t];
    const red = new Set(shape.map((_, i) => i).filter((i) => padded[i] === 1 && shape[i] !== 1));
    const y = ops.sumToShape(x.t, t);
    assert.deepEqual(y.shape, t);
    assertClose(`sumToShape ${JSON.stringify(t)}`, reduceRef(x.x, shape, red), vals(y), 1e-6);
  }
  assert.throws(() => ops.sumToShape(x.t, [5]), /shape: \[5\] does not broadcast to x's shape \[2,3,4\]/);
});

test('large reductions (parallel paths) match float64 and are bit-identical run to run', () => {
  const shape = [97, 3, 513];
  const x = rand(shape, 3);
  for (const t of [[513], [97, 1, 1], [], [3, 1]]) {
    const padded = [...Array(shape.length - t.length).fill(1), ...t];
    const red = new Set(shape.map((_, i) => i).filter((i) => padded[i] === 1 && shape[i] !== 1));
    const y = ops.sumToShape(x.t, t).toFloat32Array();
    assertClose(`big sumToShape ${JSON.stringify(t)}`, reduceRef(x.x, shape, red), y, 1e-6);
    assertSameBits(`sumToShape ${JSON.stringify(t)}`, y, ops.sumToShape(x.t, t).toFloat32Array());
  }
});

test('sumSquares adds every element squared in float64', () => {
  const a = rand([1000, 70], 4), b = rand([3], 5), c = rand([0], 6);
  let ref = 0;
  for (const v of [...a.x, ...b.x]) ref += v * v;
  const s = ops.sumSquares([a.t, b.t, c.t]);
  assert.ok(Math.abs(s - ref) / ref < 1e-12, `sumSquares ${s} vs ${ref}`);
  assert.equal(s, ops.sumSquares([a.t, b.t, c.t]));
  assert.equal(ops.sumSquares([]), 0);
});

test('softmax and argmax over the last dimension', () => {
  const x = rand([5, 2, 33], 7, 3);
  const y = vals(ops.softmax(x.t));
  const ref = new Float64Array(x.x.length);
  const am: number[] = [];
  for (let r = 0; r < 10; r++) {
    const row = x.x.subarray(r * 33, r * 33 + 33);
    const m = Math.max(...row);
    let s = 0;
    for (let j = 0; j < 33; j++) s += Math.exp(row[j] - m);
    for (let j = 0; j < 33; j++) ref[r * 33 + j] = Math.exp(row[j] - m) / s;
    am.push(row.indexOf(m));
  }
  assertClose('softmax', ref, y, 1e-6);
  const a = ops.argmax(x.t);
  assert.equal(a.dtype, 'i32');
  assert.deepEqual(a.shape, [5, 2]);
  assert.deepEqual([...a.toInt32Array()], am);
  assert.deepEqual([...ops.argmax(Tensor.from([1, 3, 3, 0], [4])).toInt32Array()], [1], 'first maximum wins');
});
