import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ops } from '../src';
import { assertClose } from './helpers';
import { assertSameBits, F64, fdGrad, rand, vals } from './ops-ref';

function convRef(x: F64, w: F64, B: number, T: number, C: number, W: number): F64 {
  const y = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let j = 0; j < W; j++) {
          const ts = t - W + 1 + j;
          if (ts >= 0) s += w[c * W + j] * x[(b * T + ts) * C + c];
        }
        y[(b * T + t) * C + c] = s;
      }
  return y;
}

test('shortConv forward and backward match float64 and finite differences (T < W too)', () => {
  for (const [B, T, C, W] of [[2, 7, 5, 4], [1, 2, 3, 4], [3, 9, 19, 3]]) {
    const x = rand([B, T, C], 1), w = rand([C, W], 2), dy = rand([B, T, C], 3);
    const f = (xs: F64[]) => convRef(xs[0], xs[1], B, T, C, W);
    assertClose(`shortConv ${[B, T, C, W]}`, f([x.x, w.x]), vals(ops.shortConv(x.t, w.t)), 1e-6);
    const { dx, dw } = ops.shortConvBackward(dy.t, x.t, w.t);
    assertClose(`dx ${[B, T, C, W]}`, fdGrad(f, [x.x, w.x], dy.x, 0), vals(dx), 1e-5);
    assertClose(`dw ${[B, T, C, W]}`, fdGrad(f, [x.x, w.x], dy.x, 1), vals(dw), 1e-5);
  }
});

test('shortConv is deterministic at parallel sizes and validates shapes', () => {
  const x = rand([2, 300, 96], 4), w = rand([96, 4], 5), dy = rand([2, 300, 96], 6);
  const r1 = ops.shortConvBackward(dy.t, x.t, w.t), r2 = ops.shortConvBackward(dy.t, x.t, w.t);
  assertSameBits('dx', r1.dx.toFloat32Array(), r2.dx.toFloat32Array());
  assertSameBits('dw', r1.dw.toFloat32Array(), r2.dw.toFloat32Array());
  assert.throws(() => ops.shortConv(x.t, rand([95, 4], 7).t), /w: expected shape \[C,W\] with C = 96/);
  assert.throws(() => ops.shortConv(rand([300, 96], 8).t, w.t), /x: expected 3 dimensions \[B,T,C\]/);
});
