import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops } from '../src';
import { assertClose } from './helpers';
import { F64, fdGrad, rand, vals } from './ops-ref';

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const softplusRef = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

test('sigmoid, silu and softplus forward match float64, including large |x|', () => {
  const x = rand([3, 41], 1, 4);
  const extreme = Tensor.from([-100, -30, -20.5, 0, 19.9, 20, 20.1, 30, 100], [9]);
  for (const t of [x.t, extreme]) {
    const xv = vals(t);
    assertClose('sigmoid', xv.map(sig), vals(ops.sigmoid(t)), 1e-6);
    assertClose('silu', xv.map((v) => v * sig(v)), vals(ops.silu(t)), 1e-6);
    assertClose('softplus', xv.map(softplusRef), vals(ops.softplus(t)), 1e-6);
  }
  for (const v of ops.sigmoid(extreme).toFloat32Array()) assert.ok(Number.isFinite(v));
});

test('activation backwards match finite differences', () => {
  const x = rand([2, 3, 17], 2, 3), dy = rand([2, 3, 17], 3);
  const map = (f: (v: number) => number) => (xs: F64[]) => xs[0].map(f);
  assertClose('silu', fdGrad(map((v) => v * sig(v)), [x.x], dy.x, 0), vals(ops.siluBackward(dy.t, x.t)), 1e-5);
  assertClose('sigmoid', fdGrad(map(sig), [x.x], dy.x, 0), vals(ops.sigmoidBackward(dy.t, ops.sigmoid(x.t))), 1e-5);
  assertClose('softplus', fdGrad(map(softplusRef), [x.x], dy.x, 0), vals(ops.softplusBackward(dy.t, x.t)), 1e-5);
  const big = Tensor.from([25, 21, -25], [3]);
  assert.deepEqual([...ops.softplusBackward(Tensor.from([2, 3, 4], [3]), big).toFloat32Array()].slice(0, 2), [2, 3], 'identity above 20');
});

test('swiglu forward and backward', () => {
  const g = rand([5, 19], 4, 2), u = rand([5, 19], 5), dy = rand([5, 19], 6);
  const f = (xs: F64[]) => xs[0].map((v, i) => v * sig(v) * xs[1][i]);
  assertClose('swiglu', f([g.x, u.x]), vals(ops.swiglu(g.t, u.t)), 1e-6);
  const { dGate, dUp } = ops.swigluBackward(dy.t, g.t, u.t);
  assertClose('dGate', fdGrad(f, [g.x, u.x], dy.x, 0), vals(dGate), 1e-5);
  assertClose('dUp', fdGrad(f, [g.x, u.x], dy.x, 1), vals(dUp), 1e-5);
  assert.throws(() => ops.swiglu(g.t, rand([5, 18], 7).t), /up: expected the shape of gate \[5,19\], got \[5,18\]/);
  assert.throws(() => ops.siluBackward(dy.t, rand([19], 7).t), /dy: expected the shape of x \[19\]/);
});
