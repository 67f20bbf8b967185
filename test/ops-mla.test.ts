// ops.mlaKV / mlaKVBackward (the MLA key/value assembly) against plain float64 loops, and the fused
// ag.mlaCausalAttention against the same layer built from slices, a broadcast add, concat and causalAttention.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Var, ag, backward, ops, scope, zerosOn } from '../src';
import { assertClose } from './helpers';
import { F64, assertSameBits, rand, vals } from './ops-ref';

interface Dims { B: number; S: number; H: number; nope: number; dv: number; C: number; ropeStart: number }

function kvRef(kv: F64, src: F64, d: Dims): { k: F64; v: F64 } {
  const rope = d.C - d.ropeStart, dk = d.nope + rope, dkv = d.nope + d.dv;
  const k = new Float64Array(d.B * d.S * d.H * dk), v = new Float64Array(d.B * d.S * d.H * d.dv);
  for (let r = 0; r < d.B * d.S; r++)
    for (let h = 0; h < d.H; h++) {
      for (let e = 0; e < d.nope; e++) k[(r * d.H + h) * dk + e] = kv[(r * d.H + h) * dkv + e];
      for (let e = 0; e < rope; e++) k[(r * d.H + h) * dk + d.nope + e] = src[r * d.C + d.ropeStart + e];
      for (let e = 0; e < d.dv; e++) v[(r * d.H + h) * d.dv + e] = kv[(r * d.H + h) * dkv + d.nope + e];
    }
  return { k, v };
}

function kvBackwardRef(gk: F64, gv: F64, d: Dims): { dkv: F64; dsrc: F64 } {
  const rope = d.C - d.ropeStart, dk = d.nope + rope, dkv = d.nope + d.dv;
  const out = new Float64Array(d.B * d.S * d.H * dkv), dsrc = new Float64Array(d.B * d.S * d.C);
  for (let r = 0; r < d.B * d.S; r++)
    for (let h = 0; h < d.H; h++) {
      for (let e = 0; e < d.nope; e++) out[(r * d.H + h) * dkv + e] = gk[(r * d.H + h) * dk + e];
      for (let e = 0; e < d.dv; e++) out[(r * d.H + h) * dkv + d.nope + e] = gv[(r * d.H + h) * d.dv + e];
      for (let e = 0; e < rope; e++) dsrc[r * d.C + d.ropeStart + e] += gk[(r * d.H + h) * dk + d.nope + e];
    }
  return { dkv: out, dsrc };
}

// odd head dims, S not a multiple of anything, the shared part at the end of a wider src, and the edge cases
// without a nope part or without a rope part
const CASES: Dims[] = [
  { B: 2, S: 67, H: 3, nope: 5, dv: 7, C: 11 + 3, ropeStart: 11 },
  { B: 1, S: 130, H: 5, nope: 0, dv: 9, C: 4, ropeStart: 0 },
  { B: 3, S: 9, H: 2, nope: 6, dv: 1, C: 13, ropeStart: 13 },
];

for (const d of CASES) {
  test(`mlaKV and its backward match float64 loops (${JSON.stringify(d)})`, () => {
    const rope = d.C - d.ropeStart;
    const kv = rand([d.B, d.S, d.H, d.nope + d.dv], 1), src = rand([d.B, d.S, d.C], 2);
    const { k, v } = ops.mlaKV(kv.t, src.t, { nope: d.nope, ropeStart: d.ropeStart });
    assert.deepEqual(k.shape, [d.B, d.S, d.H, d.nope + rope]);
    assert.deepEqual(v.shape, [d.B, d.S, d.H, d.dv]);
    const ref = kvRef(kv.x, src.x, d);
    assert.deepEqual(Array.from(vals(k)), Array.from(ref.k));
    assert.deepEqual(Array.from(vals(v)), Array.from(ref.v));
    const gk = rand([d.B, d.S, d.H, d.nope + rope], 3), gv = rand([d.B, d.S, d.H, d.dv], 4);
    const g = ops.mlaKVBackward(gk.t, gv.t, { nope: d.nope, ropeStart: d.ropeStart, C: d.C });
    const gr = kvBackwardRef(gk.x, gv.x, d);
    assert.deepEqual(g.dkv.shape, [d.B, d.S, d.H, d.nope + d.dv]);
    assert.deepEqual(g.dsrc.shape, [d.B, d.S, d.C]);
    assert.deepEqual(Array.from(vals(g.dkv)), Array.from(gr.dkv));
    assertClose('dsrc', gr.dsrc, vals(g.dsrc), 1e-6);
  });
}

test('mlaKV validates its arguments by name', () => {
  const kv = rand([2, 5, 3, 7], 1).t;
  assert.throws(() => ops.mlaKV(kv, rand([2, 4, 6], 2).t, { nope: 3 }), /src: expected \[B,S,C\] with B,S of kv \[2,5,3,7\]/);
  assert.throws(() => ops.mlaKV(kv, rand([2, 5, 6], 2).t, { nope: 8 }), /nope: expected 0 <= nope <= kv's last dim 7, got 8/);
  assert.throws(() => ops.mlaKV(kv, rand([2, 5, 6], 2).t, { nope: 3, ropeStart: 7 }), /ropeStart: expected 0 <= ropeStart <= 6, got 7/);
  assert.throws(() => ops.mlaKV(rand([2, 5, 7], 1).t, rand([2, 5, 6], 2).t, { nope: 3 }), /kv: expected \[B,S,H,nope\+dv\]/);
  assert.throws(() => ops.mlaKVBackward(rand([2, 5, 3, 4], 1).t, rand([2, 5, 3, 2], 2).t, { nope: 3, ropeStart: 4, C: 6 }),
    /dk: expected last dim nope \+ rope = 5, got 4/);
});

test('fused mlaCausalAttention (and its composed path for other devices) equals slices + broadcast + concat + causalAttention, values and gradients', () => {
  const B = 2, T = 70, H = 3, nope = 5, rope = 3, dv = 4, r = 6, scale = 0.4;
  const run = (fused: boolean | 'composed') =>
    scope(() => {
      const q = new Var(rand([B, T, H, nope + rope], 1).t, true);
      const kv = new Var(rand([B, T, H, nope + dv], 2).t, true);
      const ckv = new Var(rand([B, T, r + rope], 3).t, true);
      let o: Var;
      if (fused === 'composed') o = ag.mlaCausalAttentionComposed(q, kv, ckv, { nope, ropeStart: r, scale });  // the GPU's path
      else if (fused) o = ag.mlaCausalAttention(q, kv, ckv, { nope, ropeStart: r, scale });
      else {
        const kr = ag.add(new Var(zerosOn([B, T, H, rope], kv.data)), ag.reshape(ag.slice(ckv, 2, r, r + rope), [B, T, 1, rope]));
        const k = ag.concat([ag.slice(kv, 3, 0, nope), kr], 3);
        o = ag.causalAttention(q, k, ag.slice(kv, 3, nope, nope + dv), { scale });
      }
      backward(o, rand([B, T, H, dv], 4).t);
      return [vals(o.data), vals(q.grad!), vals(kv.grad!), vals(ckv.grad!)];
    });
  const a = run(true), b = run(false), c = run('composed');
  ['o', 'dq', 'dkv', 'dckv'].forEach((name, i) => assertClose(name, b[i], a[i], 1e-6));
  ['o', 'dq', 'dkv', 'dckv'].forEach((name, i) => assertClose(`composed ${name}`, b[i], c[i], 1e-6));
});

test('mlaLatentNorm / mlaLatentNormBackward: a float64 reference, the same bits as rmsnorm on the slice, into adds in place, refusals', () => {
  let seed = 500;
  for (const [lead, C, rank] of [[[2, 37], 13, 9], [[130], 70, 64], [[3, 1, 5], 6, 6], [[1, 300], 600, 512]] as [number[], number, number][]) {
    const R = lead.reduce((a, b) => a * b, 1);
    const src = rand([...lead, C], seed++), w = rand([rank], seed++), dy = rand([...lead, rank], seed++);
    const eps = 1e-6;
    const { y, rstd } = ops.mlaLatentNorm(src.t, w.t, { rank, eps });
    const { dsrc, dWeight } = ops.mlaLatentNormBackward(dy.t, src.t, w.t, rstd, { rank });
    // float64 reference
    const yRef = new Float64Array(R * rank), dxRef = new Float64Array(R * C), dwRef = new Float64Array(rank);
    for (let r = 0; r < R; r++) {
      let ss = 0;
      for (let j = 0; j < rank; j++) ss += src.x[r * C + j] ** 2;
      const rs = 1 / Math.sqrt(ss / rank + eps);
      let dot = 0;
      for (let j = 0; j < rank; j++) {
        yRef[r * rank + j] = src.x[r * C + j] * rs * w.x[j];
        dot += dy.x[r * rank + j] * w.x[j] * src.x[r * C + j];
        dwRef[j] += dy.x[r * rank + j] * src.x[r * C + j] * rs;
      }
      for (let j = 0; j < rank; j++) dxRef[r * C + j] = rs * (dy.x[r * rank + j] * w.x[j] - src.x[r * C + j] * rs * rs * (dot / rank));
    }
    const name = `[${lead}] C=${C} rank=${rank}`;
    assertClose(`${name} y`, yRef, vals(y), 1e-6);
    assertClose(`${name} dsrc`, dxRef, vals(dsrc!), 1e-5);
    assertClose(`${name} dWeight`, dwRef, vals(dWeight), 1e-5);
    // the unfused path: rmsnorm of the slice, its gradient zero-padded
    const c = ops.slice(src.t, -1, 0, rank);
    const ref = ops.rmsnorm(c, w.t, eps);
    const refB = ops.rmsnormBackward(dy.t, c, w.t, ref.rstd);
    const padded = ops.sliceBackward(refB.dx, [...lead, C], lead.length, 0);
    assertSameBits(`${name} y`, y.toFloat32Array(), ref.y.toFloat32Array());
    assertSameBits(`${name} rstd`, rstd.toFloat32Array(), ref.rstd.toFloat32Array());
    assertSameBits(`${name} dsrc`, dsrc!.toFloat32Array(), padded.toFloat32Array());
    assertSameBits(`${name} dWeight`, dWeight.toFloat32Array(), refB.dWeight!.toFloat32Array());
    // into: dx added into a gradient held already
    const prev = rand([...lead, C], seed++);
    const into = ops.copy(prev.t);
    const r2 = ops.mlaLatentNormBackward(dy.t, src.t, w.t, rstd, { rank, into });
    assert.equal(r2.dsrc, null);
    const sum = ops.add(prev.t, padded);
    assertSameBits(`${name} into`, into.toFloat32Array(), sum.toFloat32Array());
    for (const t of [sum, src.t, w.t, dy.t, y, rstd, dsrc!, dWeight, c, ref.y, ref.rstd, refB.dx, refB.dWeight!, padded, prev.t, into, r2.dWeight]) t.dispose();
  }
  const src = rand([4, 8], 1), w = rand([5], 2);
  assert.throws(() => ops.mlaLatentNorm(src.t, w.t, { rank: 9, eps: 1e-6 }), /rank: expected 0 <= rank <= src's last dim 8, got 9/);
  assert.throws(() => ops.mlaLatentNorm(src.t, w.t, { rank: 6, eps: 1e-6 }), /weight: expected \[rank\] = \[6\], got \[5\]/);
  assert.throws(() => ops.mlaLatentNorm(src.t, w.t, { rank: 5, eps: -1 }), /eps: expected a number >= 0/);
  const { rstd } = ops.mlaLatentNorm(src.t, w.t, { rank: 5, eps: 1e-6 });
  const dy = rand([4, 5], 3);
  assert.throws(() => ops.mlaLatentNormBackward(dy.t, src.t, w.t, rstd, { rank: 5, into: src.t }), /into: must not share storage with src or dy/);
  const wrong = rand([4, 7], 4);
  assert.throws(() => ops.mlaLatentNormBackward(dy.t, src.t, w.t, rstd, { rank: 5, into: wrong.t }), /into: expected src's shape \[4,8\], got \[4,7\]/);
  assert.throws(() => ops.mlaLatentNormBackward(wrong.t, src.t, w.t, rstd, { rank: 5 }), /dy: expected src's shape with last dim rank 5, got \[4,7\]/);
  for (const t of [src.t, w.t, rstd, dy.t, wrong.t]) t.dispose();
});
