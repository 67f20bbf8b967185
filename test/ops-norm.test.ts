import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ops } from '../src';
import { assertClose } from './helpers';
import { assertSameBits, F64, fdGrad, rand, vals } from './ops-ref';

function rmsnormRef(x: F64, w: F64 | null, D: number, eps: number): F64 {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let ss = 0;
    for (let j = 0; j < D; j++) ss += x[r * D + j] ** 2;
    const rs = 1 / Math.sqrt(ss / D + eps);
    for (let j = 0; j < D; j++) y[r * D + j] = x[r * D + j] * rs * (w ? w[j] : 1);
  }
  return y;
}

function l2normRef(x: F64, D: number, eps: number): F64 {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let ss = 0;
    for (let j = 0; j < D; j++) ss += x[r * D + j] ** 2;
    for (let j = 0; j < D; j++) y[r * D + j] = x[r * D + j] / Math.sqrt(ss + eps);
  }
  return y;
}

test('rmsnorm forward and backward (with and without weight) match float64 and finite differences', () => {
  for (const shape of [[2, 3, 7], [5, 33], [1, 2]]) {
    const D = shape[shape.length - 1];
    const x = rand(shape, 1), w = rand([D], 2), dy = rand(shape, 3);
    for (const withW of [true, false]) {
      const { y, rstd } = ops.rmsnorm(x.t, withW ? w.t : null, 1e-5);
      assert.deepEqual(rstd.shape, shape.slice(0, -1));
      assertClose(`rmsnorm y ${shape}`, rmsnormRef(x.x, withW ? w.x : null, D, 1e-5), vals(y), 1e-6);
      const { dx, dWeight } = ops.rmsnormBackward(dy.t, x.t, withW ? w.t : null, rstd);
      const f = (xs: F64[]) => rmsnormRef(xs[0], withW ? xs[1] : null, D, 1e-5);
      assertClose(`rmsnorm dx ${shape}`, fdGrad(f, [x.x, w.x], dy.x, 0), vals(dx), 1e-5);
      if (withW) assertClose(`rmsnorm dWeight ${shape}`, fdGrad(f, [x.x, w.x], dy.x, 1), vals(dWeight!), 1e-5);
      else assert.equal(dWeight, null);
    }
  }
});

test('l2norm forward and backward match float64 and finite differences', () => {
  for (const shape of [[2, 3, 7], [4, 64], [3, 2]]) {
    const D = shape[shape.length - 1];
    const x = rand(shape, 4), dy = rand(shape, 5);
    const { y, rnorm } = ops.l2norm(x.t);
    assert.deepEqual(rnorm.shape, shape.slice(0, -1));
    assertClose(`l2norm y ${shape}`, l2normRef(x.x, D, 1e-6), vals(y), 1e-6);
    const dx = ops.l2normBackward(dy.t, y, rnorm);
    assertClose(`l2norm dx ${shape}`, fdGrad((xs) => l2normRef(xs[0], D, 1e-6), [x.x], dy.x, 0), vals(dx), 1e-5);
  }
  const z = ops.l2norm(ops.full([2, 4], 0), 1e-6).y;
  assert.deepEqual([...z.toFloat32Array()], new Array(8).fill(0), 'zero rows stay finite');
});

test('norms validate shapes by name and are deterministic at parallel sizes', () => {
  const x = rand([4, 8], 1);
  assert.throws(() => ops.rmsnorm(x.t, rand([7], 2).t, 1e-5), /weight: expected shape \[D\] = \[8\], got \[7\]/);
  const { rstd } = ops.rmsnorm(x.t, null, 1e-5);
  assert.throws(() => ops.rmsnormBackward(rand([4, 9], 3).t, x.t, null, rstd), /dy: expected the shape of x \[4,8\], got \[4,9\]/);
  assert.throws(() => ops.l2normBackward(x.t, x.t, rand([5], 4).t), /rnorm: expected shape/);
  const big = rand([257, 300], 5), w = rand([300], 6), dy = rand([257, 300], 7);
  const run = () => {
    const f = ops.rmsnorm(big.t, w.t, 1e-6);
    const b = ops.rmsnormBackward(dy.t, big.t, w.t, f.rstd);
    return [f.y, b.dx, b.dWeight!].map((t) => t.toFloat32Array());
  };
  const [a1, b1] = [run(), run()];
  a1.forEach((v, i) => assertSameBits(`rmsnorm output ${i}`, v, b1[i]));
});
