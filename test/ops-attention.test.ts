import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ops } from '../src';
import { assertClose } from './helpers';
import { assertSameBits, F64, fdGrad, rand, vals } from './ops-ref';

interface Dims {
  B: number;
  T: number; // query positions
  H: number;
  D: number;
  Dv: number;
  Tk?: number; // key positions (default T); query i sits at position Tk - T + i
}

/** float64 causal attention: returns o [B,T,H,Dv] and lse [B,H,T], plus P [T,Tk] per (b,h) for the backward. */
function attnRef(q: F64, k: F64, v: F64, d: Dims, scale: number) {
  const { B, T, H, D, Dv } = d;
  const Tk = d.Tk ?? T, off = Tk - T;
  const o = new Float64Array(B * T * H * Dv), lse = new Float64Array(B * H * T);
  const P: F64[] = [];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const p = new Float64Array(T * Tk);
      for (let i = 0; i < T; i++) {
        let m = -Infinity;
        for (let j = 0; j <= off + i; j++) {
          let s = 0;
          for (let e = 0; e < D; e++) s += q[((b * T + i) * H + h) * D + e] * k[((b * Tk + j) * H + h) * D + e];
          p[i * Tk + j] = s * scale;
          m = Math.max(m, s * scale);
        }
        let z = 0;
        for (let j = 0; j <= off + i; j++) z += Math.exp(p[i * Tk + j] - m);
        lse[(b * H + h) * T + i] = m + Math.log(z);
        for (let j = 0; j <= off + i; j++) {
          p[i * Tk + j] = Math.exp(p[i * Tk + j] - m) / z;
          for (let e = 0; e < Dv; e++) o[((b * T + i) * H + h) * Dv + e] += p[i * Tk + j] * v[((b * Tk + j) * H + h) * Dv + e];
        }
      }
      P.push(p);
    }
  return { o, lse, P };
}

/** float64 analytic backward of attnRef. */
function attnBackwardRef(dO: F64, q: F64, k: F64, v: F64, d: Dims, scale: number) {
  const { B, T, H, D, Dv } = d;
  const Tk = d.Tk ?? T, off = Tk - T;
  const { P } = attnRef(q, k, v, d, scale);
  const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const p = P[b * H + h];
      const qi = (t: number, e: number) => ((b * T + t) * H + h) * D + e;
      const ki = (t: number, e: number) => ((b * Tk + t) * H + h) * D + e;
      const oi = (t: number, e: number) => ((b * T + t) * H + h) * Dv + e;
      const vi = (t: number, e: number) => ((b * Tk + t) * H + h) * Dv + e;
      for (let i = 0; i < T; i++) {
        const n = off + i + 1;
        const dp = new Float64Array(n);
        let rowdot = 0;
        for (let j = 0; j < n; j++) {
          for (let e = 0; e < Dv; e++) {
            dp[j] += dO[oi(i, e)] * v[vi(j, e)];
            dv[vi(j, e)] += p[i * Tk + j] * dO[oi(i, e)];
          }
          rowdot += p[i * Tk + j] * dp[j];
        }
        for (let j = 0; j < n; j++) {
          const ds = p[i * Tk + j] * (dp[j] - rowdot) * scale;
          for (let e = 0; e < D; e++) {
            dq[qi(i, e)] += ds * k[ki(j, e)];
            dk[ki(j, e)] += ds * q[qi(i, e)];
          }
        }
      }
    }
  return { dq, dk, dv };
}

test('causal attention forward matches float64 across query blocks (T = 131, 2 blocks of 128)', () => {
  const d = { B: 2, T: 131, H: 3, D: 5, Dv: 7 };
  const q = rand([d.B, d.T, d.H, d.D], 1), k = rand([d.B, d.T, d.H, d.D], 2), v = rand([d.B, d.T, d.H, d.Dv], 3);
  const { o, lse } = ops.causalAttention(q.t, k.t, v.t);
  const ref = attnRef(q.x, k.x, v.x, d, 1 / Math.sqrt(d.D));
  assert.deepEqual(o.shape, [2, 131, 3, 7]);
  assert.deepEqual(lse.shape, [2, 3, 131]);
  assertClose('o', ref.o, vals(o), 1e-5);
  assertClose('lse', ref.lse, vals(lse), 1e-6);
  const dO = rand([d.B, d.T, d.H, d.Dv], 4);
  const g = ops.causalAttentionBackward(dO.t, q.t, k.t, v.t, o, lse);
  const gr = attnBackwardRef(dO.x, q.x, k.x, v.x, d, 1 / Math.sqrt(d.D));
  assertClose('dq', gr.dq, vals(g.dq), 1e-5);
  assertClose('dk', gr.dk, vals(g.dk), 1e-5);
  assertClose('dv', gr.dv, vals(g.dv), 1e-5);
  const g2 = ops.causalAttentionBackward(dO.t, q.t, k.t, v.t, o, lse);
  assertSameBits('dk rerun', g.dk.toFloat32Array(), g2.dk.toFloat32Array());
  assertSameBits('o rerun', o.toFloat32Array(), ops.causalAttention(q.t, k.t, v.t).o.toFloat32Array());
});

test('causal attention backward matches finite differences (tiny, custom scale)', () => {
  const d = { B: 1, T: 6, H: 2, D: 3, Dv: 4 };
  const scale = 0.8;
  const q = rand([1, 6, 2, 3], 5), k = rand([1, 6, 2, 3], 6), v = rand([1, 6, 2, 4], 7), dO = rand([1, 6, 2, 4], 8);
  const { o, lse } = ops.causalAttention(q.t, k.t, v.t, { scale });
  const g = ops.causalAttentionBackward(dO.t, q.t, k.t, v.t, o, lse, { scale });
  const f = (xs: F64[]) => attnRef(xs[0], xs[1], xs[2], d, scale).o;
  const xs = [q.x, k.x, v.x];
  assertClose('dq', fdGrad(f, xs, dO.x, 0), vals(g.dq), 1e-5);
  assertClose('dk', fdGrad(f, xs, dO.x, 1), vals(g.dk), 1e-5);
  assertClose('dv', fdGrad(f, xs, dO.x, 2), vals(g.dv), 1e-5);
});

test('queries attending to earlier cached keys (Tq < Tk) match float64 and equal the tail of full attention', () => {
  const d = { B: 2, T: 5, Tk: 133, H: 2, D: 4, Dv: 3 };
  const q = rand([d.B, d.T, d.H, d.D], 11), k = rand([d.B, d.Tk, d.H, d.D], 12), v = rand([d.B, d.Tk, d.H, d.Dv], 13);
  const { o, lse } = ops.causalAttention(q.t, k.t, v.t);
  assert.deepEqual(o.shape, [2, 5, 2, 3]);
  assert.deepEqual(lse.shape, [2, 2, 5]);
  const ref = attnRef(q.x, k.x, v.x, d, 0.5);
  assertClose('o', ref.o, vals(o), 1e-5);
  assertClose('lse', ref.lse, vals(lse), 1e-6);
  const dO = rand([d.B, d.T, d.H, d.Dv], 14);
  const g = ops.causalAttentionBackward(dO.t, q.t, k.t, v.t, o, lse);
  const gr = attnBackwardRef(dO.x, q.x, k.x, v.x, d, 0.5);
  assertClose('dq', gr.dq, vals(g.dq), 1e-5);
  assertClose('dk', gr.dk, vals(g.dk), 1e-5);
  assertClose('dv', gr.dv, vals(g.dv), 1e-5);
  assert.deepEqual(g.dk.shape, [2, 133, 2, 4]);
  // Same as running full causal attention over all Tk positions (queries padded in front) and keeping the tail.
  const qFull = ops.concat([rand([d.B, d.Tk - d.T, d.H, d.D], 15).t, q.t], 1);
  const tail = ops.slice(ops.causalAttention(qFull, k.t, v.t).o, 1, d.Tk - d.T, d.Tk);
  assertClose('tail of full attention', vals(tail), vals(o), 1e-6);
});

test('attention validates shapes by name', () => {
  const q = rand([1, 4, 2, 3], 1).t;
  assert.throws(() => ops.causalAttention(q, rand([1, 4, 2, 2], 2).t, rand([1, 4, 2, 5], 3).t), /k: expected shape \[B,Tk,H,D\] with B,H,D = 1,2,3/);
  assert.throws(() => ops.causalAttention(q, q, rand([1, 5, 2, 5], 3).t), /v: expected shape \[B,Tk,H,Dv\] with B,Tk,H = 1,4,2/);
  const { o, lse } = ops.causalAttention(q, q, q);
  assert.throws(() => ops.causalAttention(rand([1, 5, 2, 3], 5).t, q, q), /k: expected shape \[B,Tk,H,D\] .* and Tk >= Tq = 5/);
  assert.throws(() => ops.causalAttentionBackward(o, q, q, q, o, rand([1, 4, 2], 4).t), /lse: expected shape \[B,H,Tq\] = \[1,2,4\]/);
});

test('a query block past cached keys (Tq = 100 of Tk = 333) matches float64 in every row sub-block of the diagonal', () => {
  const d = { B: 1, T: 100, Tk: 333, H: 2, D: 3, Dv: 5 };
  const q = rand([d.B, d.T, d.H, d.D], 21), k = rand([d.B, d.Tk, d.H, d.D], 22), v = rand([d.B, d.Tk, d.H, d.Dv], 23);
  const { o, lse } = ops.causalAttention(q.t, k.t, v.t);
  const scale = 1 / Math.sqrt(d.D);
  const ref = attnRef(q.x, k.x, v.x, d, scale);
  assertClose('o', ref.o, vals(o), 1e-5);
  assertClose('lse', ref.lse, vals(lse), 1e-6);
  const dO = rand([d.B, d.T, d.H, d.Dv], 24);
  const g = ops.causalAttentionBackward(dO.t, q.t, k.t, v.t, o, lse);
  const gr = attnBackwardRef(dO.x, q.x, k.x, v.x, d, scale);
  assertClose('dq', gr.dq, vals(g.dq), 1e-5);
  assertClose('dk', gr.dk, vals(g.dk), 1e-5);
  assertClose('dv', gr.dv, vals(g.dv), 1e-5);
});

test('saved probabilities (probsBudget) give bit-identical outputs and gradients to recomputing them', () => {
  for (const d of [{ B: 2, T: 131, H: 3, D: 5, Dv: 7 }, { B: 1, T: 100, Tk: 333, H: 2, D: 3, Dv: 5 }]) {
    const Tk = d.Tk ?? d.T;
    const q = rand([d.B, d.T, d.H, d.D], 31), k = rand([d.B, Tk, d.H, d.D], 32), v = rand([d.B, Tk, d.H, d.Dv], 33);
    const dO = rand([d.B, d.T, d.H, d.Dv], 34);
    const plain = ops.causalAttention(q.t, k.t, v.t);
    assert.equal(plain.probs, null);
    const saved = ops.causalAttention(q.t, k.t, v.t, { probsBudget: 2 ** 30 });
    assert.ok(saved.probs, 'probs kept within the budget');
    assertSameBits('o', plain.o.toFloat32Array(), saved.o.toFloat32Array());
    assertSameBits('lse', plain.lse.toFloat32Array(), saved.lse.toFloat32Array());
    const g1 = ops.causalAttentionBackward(dO.t, q.t, k.t, v.t, plain.o, plain.lse);
    const g2 = ops.causalAttentionBackward(dO.t, q.t, k.t, v.t, saved.o, saved.lse, { probs: saved.probs });
    for (const n of ['dq', 'dk', 'dv'] as const) assertSameBits(n, g1[n].toFloat32Array(), g2[n].toFloat32Array());
    assert.equal(ops.causalAttention(q.t, k.t, v.t, { probsBudget: 100 }).probs, null, 'over the budget: not kept');
  }
  const q = rand([1, 4, 2, 3], 1).t;
  const { o, lse } = ops.causalAttention(q, q, q);
  assert.throws(() => ops.causalAttentionBackward(o.reshape([1, 4, 2, 3]), q, q, q, o, lse, { probs: rand([7], 2).t }),
    /probs: expected the forward's saved probabilities \[32\], got \[7\]/);
});
