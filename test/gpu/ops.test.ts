// GPU only (scripts/gpu-check.sh): every CUDA op of the ops contract against its CPU op on the same random
// inputs (awkward sizes), forward and backward. fp32: RMS-relative error <= 1e-5; ids/argmax exactly equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops, syncCheck } from '../../src';
import { randn, rmsRel, uniform } from '../helpers';

const TOL = 1e-5;
let seed = 1;
const rand = (shape: number[], scale = 1) => Tensor.from(randn(shape.reduce((a, b) => a * b, 1), seed++, scale), shape);
const pos = (shape: number[]) => Tensor.from(uniform(shape.reduce((a, b) => a * b, 1), seed++, 0.1, 2), shape);
const ints = (shape: number[], hi: number) =>
  Tensor.from(Int32Array.from(uniform(shape.reduce((a, b) => a * b, 1), seed++, 0, hi), (x) => Math.min(hi - 1, Math.floor(x))), shape, { dtype: 'i32' });
const gpu = (t: Tensor) => t.to('cuda');

function same(name: string, ref: Tensor | null, x: Tensor | null, tol = TOL) {
  assert.ok((ref === null) === (x === null), `${name}: one side is null`);
  if (!ref || !x) return;
  assert.ok(x.device.startsWith('cuda'), `${name}: result left the GPU`);
  assert.deepEqual(x.shape, ref.shape, `${name}: shape`);
  assert.equal(x.dtype, ref.dtype, `${name}: dtype`);
  if (ref.dtype === 'i32') {
    assert.deepEqual(Array.from(x.toInt32Array()), Array.from(ref.toInt32Array()), `${name}: values`);
    return;
  }
  const e = rmsRel(ref.toFloat32Array(), x.toFloat32Array());
  assert.ok(e <= tol, `${name}: RMS-relative error ${e.toExponential(3)} > ${tol}`);
}

/** Runs f on CPU tensors and on their GPU copies and compares every tensor in the results. */
function check(name: string, inputs: Tensor[], f: (...t: Tensor[]) => Tensor | Record<string, Tensor | null>, tol = TOL) {
  const ref = f(...inputs);
  const out = f(...inputs.map(gpu));
  if (ref instanceof Tensor) return same(name, ref, out as Tensor, tol);
  for (const k of Object.keys(ref)) same(`${name}.${k}`, ref[k], (out as Record<string, Tensor | null>)[k], tol);
}

test('matmul: plain, transposed, batched, shared b, awkward sizes', () => {
  check('mm', [rand([37, 61]), rand([61, 45])], (a, b) => ops.matmul(a, b));
  check('mm tA tB', [rand([130, 67]), rand([5, 130])], (a, b) => ops.matmul(a, b, { transA: true, transB: true, alpha: 0.5 }));
  check('mm batched', [rand([3, 2, 65, 17]), rand([3, 2, 17, 66])], (a, b) => ops.matmul(a, b));
  check('mm shared b', [rand([4, 33, 100]), rand([100, 70])], (a, b) => ops.matmul(a, b));
  check('mm shared tB', [rand([4, 33, 100]), rand([70, 100])], (a, b) => ops.matmul(a, b, { transB: true }));
  check('mm big', [rand([256, 1024]), rand([1024, 300])], (a, b) => ops.matmul(a, b));
});

test('elementwise: broadcasting binary ops, unary maps, in-place updates', () => {
  for (const [sa, sb] of [[[5, 7], [5, 7]], [[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[1], [6, 5]], [[4, 1, 6], [1, 5, 1]]]) {
    check(`add ${sa}+${sb}`, [rand(sa), rand(sb)], ops.add);
    check(`sub ${sa}`, [rand(sa), rand(sb)], ops.sub);
    check(`mul ${sa}`, [rand(sa), rand(sb)], ops.mul);
    check(`div ${sa}`, [rand(sa), pos(sb)], ops.div);
  }
  const x = rand([1000]);
  check('scale', [x], (t) => ops.scale(t, 1.5));
  check('addScalar', [x], (t) => ops.addScalar(t, -0.25));
  for (const f of ['neg', 'exp', 'square', 'tanh'] as const) check(f, [x], ops[f]);
  check('log', [pos([999])], ops.log);
  check('sqrt', [pos([999])], ops.sqrt);
  check('copy', [x], ops.copy);
  check('addInPlace', [rand([300]), rand([300])], (d, s) => {
    const c = ops.copy(d);
    ops.addInPlace(c, s, 0.75);
    ops.scaleInPlace(c, 2);
    return c;
  });
  check('copyInPlace', [rand([30]), rand([30])], (d, s) => {
    const c = ops.copy(d);
    ops.copyInPlace(c, s);
    return c;
  });
});

test('reductions: sum/mean over dims, sumToShape, sumSquares, softmax, argmax', () => {
  const x = rand([3, 5, 7, 2]);
  check('sum all', [x], (t) => ops.sum(t));
  check('sum dim 1', [x], (t) => ops.sum(t, { dim: 1 }));
  check('sum dims 0,2 keep', [x], (t) => ops.sum(t, { dim: [0, 2], keepDim: true }));
  check('mean last', [x], (t) => ops.mean(t, { dim: -1 }));
  check('sumToShape', [x], (t) => ops.sumToShape(t, [5, 1, 2]));
  check('sumToShape row', [rand([64, 33])], (t) => ops.sumToShape(t, [33]));
  // contiguous outputs take the coalesced column-segment path (bias gradients): long and short reduced ranges
  check('sumToShape bias', [rand([4097, 70])], (t) => ops.sumToShape(t, [70]));
  check('sumToShape [A,1,C]', [rand([9, 301, 5])], (t) => ops.sumToShape(t, [9, 1, 5]));
  check('sumToShape wide', [rand([3, 70000])], (t) => ops.sumToShape(t, [70000]));
  const ts = [rand([1000]), rand([7, 3])];
  const cpu = ops.sumSquares(ts);
  const dev = ops.sumSquares(ts.map(gpu));  // compensated fp32 on the device, rounded to fp32 once
  assert.ok(Math.abs(cpu - dev) <= 2e-7 * Math.abs(cpu), `sumSquares ${cpu} vs ${dev}`);
  const scalar = ops.sumSquaresScalar(ts.map(gpu));
  assert.ok(scalar.device.startsWith('cuda') && Math.abs(scalar.toFloat32Array()[0] - cpu) <= 2e-7 * cpu);
  // clipping on the device: the norm before clipping, grads scaled only above the limit
  const gs = [rand([300]), rand([17, 5])];
  const norm = Math.sqrt(ops.sumSquares(gs));
  for (const max of [norm / 3, norm * 2]) {
    const c = gs.map(ops.copy);
    const d = gs.map(gpu);
    const nc = ops.clipGradNorm(c, max).toFloat32Array()[0];
    const nd = ops.clipGradNorm(d, max);
    assert.ok(nd.device.startsWith('cuda'));
    assert.ok(Math.abs(nd.toFloat32Array()[0] - nc) <= 1e-6 * nc, `clip norm ${nc} vs ${nd.toFloat32Array()[0]}`);
    c.forEach((t, i) => same(`clipped grad ${i} (max ${max})`, t, d[i], 1e-6));
  }
  check('softmax', [rand([9, 1000], 3)], ops.softmax);
  check('argmax', [rand([17, 301])], ops.argmax);
});

test('norms and activations, forward and backward', () => {
  const x = rand([6, 5, 130]);
  const w = rand([130]);
  const dy = rand([6, 5, 130]);
  check('rmsnorm', [x, w], (a, b) => ops.rmsnorm(a, b, 1e-5));
  check('rmsnorm no weight', [x], (a) => ops.rmsnorm(a, null, 1e-5));
  check('rmsnormBackward', [dy, x, w], (g, a, b) => ops.rmsnormBackward(g, a, b, ops.rmsnorm(a, b, 1e-5).rstd));
  check('rmsnormBackward no weight', [dy, x], (g, a) => ops.rmsnormBackward(g, a, null, ops.rmsnorm(a, null, 1e-5).rstd));
  check('l2norm', [x], (a) => ops.l2norm(a));
  check('l2normBackward', [dy, x], (g, a) => {
    const r = ops.l2norm(a);
    return ops.l2normBackward(g, r.y, r.rnorm);
  });
  const z = rand([2000], 8); // reaches the softplus threshold
  check('silu', [z], ops.silu);
  check('sigmoid', [z], ops.sigmoid);
  check('softplus', [z], ops.softplus);
  check('siluBackward', [rand([2000]), z], ops.siluBackward);
  check('sigmoidBackward', [rand([2000]), z], (g, t) => ops.sigmoidBackward(g, ops.sigmoid(t)));
  check('softplusBackward', [rand([2000]), z], ops.softplusBackward);
  check('swiglu', [z, rand([2000])], ops.swiglu);
  check('swigluBackward', [rand([2000]), z, rand([2000])], ops.swigluBackward);
});

test('embedding, short conv, cross-entropy, forward and backward', () => {
  const W = rand([50, 33]);
  const ids = ints([4, 9], 50);
  check('embedding', [W, ids], ops.embedding);
  check('embeddingBackward', [rand([4, 9, 33]), ids], (g, i) => ops.embeddingBackward(g, i, 50));
  // many tokens on few rows (one very hot row), wide rows: the sorted segmented sum, same bits run to run
  const hot = Tensor.from(Int32Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? 7 : (i * 31) % 200)), [5000], { dtype: 'i32' });
  const gHot = rand([5000, 300]);
  check('embeddingBackward hot rows', [gHot, hot], (g, i) => ops.embeddingBackward(g, i, 200), 1e-6);
  const r1 = ops.embeddingBackward(gpu(gHot), gpu(hot), 200).toFloat32Array();
  const r2 = ops.embeddingBackward(gpu(gHot), gpu(hot), 200).toFloat32Array();
  assert.deepEqual(r1, r2, 'embeddingBackward is not deterministic');
  const x = rand([2, 19, 37]);
  const cw = rand([37, 4]);
  check('shortConv', [x, cw], ops.shortConv);
  check('shortConvBackward', [rand([2, 19, 37]), x, cw], ops.shortConvBackward);
  const logits = rand([13, 1001], 3);
  const tg = Int32Array.from(ints([13], 1001).toInt32Array());
  tg[4] = -100;
  const targets = Tensor.from(tg, [13], { dtype: 'i32' });
  check('crossEntropy', [logits, targets], (l, t) => ops.crossEntropy(l, t));
  check('crossEntropyBackward', [rand([13]), logits, targets], (g, l, t) => ops.crossEntropyBackward(g, l, t, ops.crossEntropy(l, t).lse));
  // Data checks run on the device: the op returns at once, the error comes at the next synchronisation (a read, or
  // syncCheck), names the op, the value and where; the device keeps working afterwards.
  const bad = Tensor.from(Int32Array.from([0, 5000, -3]), [3], { dtype: 'i32' }).to('cuda');
  const ce = ops.crossEntropy(gpu(rand([3, 1001])), bad);
  assert.throws(() => ce.loss.toFloat32Array(), /crossEntropy: targets: target 5000 at row 1 is out of range \[0, 1001\)/);
  assert.doesNotThrow(() => ce.loss.toFloat32Array(), 'a check is reported once');
  ops.embedding(gpu(W), Tensor.from(Int32Array.from([3, -1, 60, 2]), [2, 2], { dtype: 'i32' }).to('cuda'));
  ops.embedding(gpu(W), Tensor.from(Int32Array.from([99]), [1], { dtype: 'i32' }).to('cuda'));  // a later failure
  assert.throws(() => syncCheck('cuda'), /embedding: ids: id -1 at position \[0,1\] is out of range \[0, 50\)/);
  assert.doesNotThrow(() => syncCheck('cuda'));
  check('embedding after a failed check', [W, ids], ops.embedding);
});

test('causal attention, forward and backward', () => {
  for (const [B, T, H, D, Dv] of [[1, 1, 1, 8, 8], [2, 37, 3, 40, 24], [1, 130, 2, 64, 64], [1, 20, 1, 256, 200]]) {
    const q = rand([B, T, H, D]), k = rand([B, T, H, D]), v = rand([B, T, H, Dv]), dO = rand([B, T, H, Dv]);
    check(`attention ${[B, T, H, D, Dv]}`, [q, k, v], (a, b, c) => ops.causalAttention(a, b, c));
    check(`attentionBackward ${[B, T, H, D, Dv]}`, [dO, q, k, v], (g, a, b, c) => {
      const f = ops.causalAttention(a, b, c, { scale: 0.3 });
      return ops.causalAttentionBackward(g, a, b, c, f.o, f.lse, { scale: 0.3 });
    });
  }
});

test('shape ops: concat, slice, sliceBackward, transpose (f32 and i32)', () => {
  check('concat', [rand([2, 3, 4]), rand([2, 5, 4])], (a, b) => ops.concat([a, b], 1));
  check('concat last', [rand([3, 2]), rand([3, 7])], (a, b) => ops.concat([a, b], -1));
  check('slice', [rand([4, 10, 3])], (a) => ops.slice(a, 1, 2, -3));
  check('sliceBackward', [rand([4, 5, 3])], (a) => ops.sliceBackward(a, [4, 10, 3], 1, 2));
  check('transpose', [rand([3, 4, 5, 6])], (a) => ops.transpose(a, 1, 3));
  check('transpose i32', [ints([5, 7], 100)], (a) => ops.transpose(a, 0, 1));
});

test('an op without a CUDA kernel says so (full has none: it takes no tensor and makes a cpu tensor)', () => {
  assert.equal(ops.full([2], 1).device, 'cpu');
});
