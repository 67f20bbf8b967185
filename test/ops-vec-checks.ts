// Checks of the vectorised row primitives (native/vec_math.cc) through the ops that use them, on lengths
// around every vector width and on edge values. Run in-process by ops-simd.test.ts and, with RECLIN_VEC
// set, in ops-simd-child.ts (the SIMD level is chosen once per process).
import { Tensor, ops } from '../src';
import { rmsRel } from './helpers';
import { rand, vals } from './ops-ref';

const sig = (x: number) => 1 / (1 + Math.exp(-x));

export function vecChecks(): string[] {
  const bad: string[] = [];
  const check = (name: string, ref: ArrayLike<number>, got: ArrayLike<number>, tol = 2e-6) => {
    const e = rmsRel(ref, got);
    if (!(e <= tol)) bad.push(`${name}: RMS-relative error ${e}`);
  };
  for (const n of [1, 7, 8, 9, 15, 16, 17, 31, 33, 1001]) {
    const x = rand([3, n], n, 4);
    check(`exp n=${n}`, x.x.map(Math.exp), vals(ops.exp(x.t)));
    check(`sigmoid n=${n}`, x.x.map(sig), vals(ops.sigmoid(x.t)));
    check(`silu n=${n}`, x.x.map((v) => v * sig(v)), vals(ops.silu(x.t)));
    const dy = rand([3, n], n + 1);
    check(`siluBackward n=${n}`, x.x.map((v, i) => dy.x[i] * sig(v) * (1 + v * (1 - sig(v)))), vals(ops.siluBackward(dy.t, x.t)));
    const sw = ops.swigluBackward(dy.t, x.t, dy.t);
    check(`swiglu dUp n=${n}`, x.x.map((v, i) => dy.x[i] * v * sig(v)), vals(sw.dUp));
    const sm = new Float64Array(3 * n), lse = new Float64Array(3);
    for (let r = 0; r < 3; r++) {
      const row = x.x.subarray(r * n, r * n + n);
      const m = Math.max(...row);
      let z = 0;
      for (const v of row) z += Math.exp(v - m);
      lse[r] = m + Math.log(z);
      for (let j = 0; j < n; j++) sm[r * n + j] = Math.exp(row[j] - m) / z;
    }
    check(`softmax n=${n}`, sm, vals(ops.softmax(x.t)));
    const tg = Tensor.from(new Int32Array([0, n - 1, -100]), [3]);
    const ce = ops.crossEntropy(x.t, tg);
    check(`crossEntropy lse n=${n}`, lse, vals(ce.lse), 1e-6);
    const ones = Tensor.from([1, 1, 1], [3]);
    const g = vals(ops.crossEntropyBackward(ones, x.t, tg, ce.lse));
    const gref = sm.map((v, i) => (i >= 2 * n ? 0 : v - ((i === 0 || i === 2 * n - 1) ? 1 : 0)));
    check(`crossEntropyBackward n=${n}`, gref, g);
    const nrm = ops.rmsnorm(x.t, null, 1e-6);
    const rref = new Float64Array(3 * n);
    for (let r = 0; r < 3; r++) {
      let ss = 0;
      for (let j = 0; j < n; j++) ss += x.x[r * n + j] ** 2;
      for (let j = 0; j < n; j++) rref[r * n + j] = x.x[r * n + j] / Math.sqrt(ss / n + 1e-6);
    }
    check(`rmsnorm n=${n}`, rref, vals(nrm.y));
  }
  const edge = Tensor.from([-Infinity, -1000, -104, -88, -87.5, 0, 80, 88.5, 89, 1000, Infinity, NaN, 1e-30, -1e-30, 5, -5, 60], [17]);
  const e = ops.exp(edge).toFloat32Array();
  const want = [0, 0, 0, Math.fround(Math.exp(-88)), Math.fround(Math.exp(-87.5)), 1, Math.fround(Math.exp(80)), Math.fround(Math.exp(88.5)), Infinity, Infinity, Infinity, NaN, 1, 1, Math.fround(Math.exp(5)), Math.fround(Math.exp(-5)), Math.fround(Math.exp(60))];
  want.forEach((w, i) => {
    // Results below the smallest normal float (1.18e-38) may be flushed to zero.
    const ok = w > 0 && w < 1.18e-38 ? e[i] >= 0 && e[i] <= w * (1 + 1e-6) : Number.isNaN(w) ? Number.isNaN(e[i]) : w === 0 || !Number.isFinite(w) ? e[i] === w || (w === 0 && Math.abs(e[i]) < 1e-37) : Math.abs(e[i] - w) <= 3e-7 * w;
    if (!ok) bad.push(`exp(${edge.toFloat32Array()[i]}) = ${e[i]}, want ${w}`);
  });
  const s = ops.sigmoid(edge).toFloat32Array();
  [0, 0, 0].forEach((w, i) => {
    if (!(Math.abs(s[i] - w) < 1e-30)) bad.push(`sigmoid(${edge.toFloat32Array()[i]}) = ${s[i]}`);
  });
  if (s[9] !== 1 || s[10] !== 1 || !Number.isNaN(s[11])) bad.push(`sigmoid of +1000/+inf/NaN = ${s[9]}, ${s[10]}, ${s[11]}`);
  return bad;
}

