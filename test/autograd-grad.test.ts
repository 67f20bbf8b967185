// Every differentiable function's gradient against central finite differences (float32 engine, h = 1e-2,
// L = Σ out ⊙ R evaluated in float64). Tolerance: rmsRel ≤ 1e-3 over the probed coordinates; measured
// 1e-6..1e-4 (largest: div w.r.t. the divisor 3.5e-4 and kda w.r.t. g 1.1e-4, both O(h²) truncation).
import { test } from 'node:test';
import { Tensor, Var, ag } from '../src';
import { assertGrad, input } from './gradcheck';
import { uniform } from './helpers';

const TOL = 1e-3;

test('grad: matmul in all transpose combinations, batched and with a shared 2-D right operand', () => {
  assertGrad('matmul', [input([3, 4], 1), input([4, 5], 2)], ([a, b]) => ag.matmul(a, b), TOL);
  assertGrad('matmul transA', [input([4, 3], 3), input([4, 5], 4)], ([a, b]) => ag.matmul(a, b, { transA: true }), TOL);
  assertGrad('matmul transB', [input([3, 4], 5), input([5, 4], 6)], ([a, b]) => ag.matmul(a, b, { transB: true }), TOL);
  assertGrad('matmul transA transB', [input([4, 3], 7), input([5, 4], 8)], ([a, b]) => ag.matmul(a, b, { transA: true, transB: true }), TOL);
  assertGrad('matmul batched', [input([2, 3, 4], 9), input([2, 4, 5], 10)], ([a, b]) => ag.matmul(a, b), TOL);
  assertGrad('matmul batched transB', [input([2, 3, 4], 11), input([2, 5, 4], 12)], ([a, b]) => ag.matmul(a, b, { transB: true }), TOL);
  assertGrad('matmul shared 2-D b', [input([2, 3, 4], 13), input([4, 5], 14)], ([a, b]) => ag.matmul(a, b), TOL);
  assertGrad('linear', [input([2, 3, 4], 15), input([5, 4], 16), input([5], 17)], ([x, w, b]) => ag.linear(x, w, b), TOL);
});

test('grad: broadcasting add, sub, mul, div', () => {
  const pos = (shape: number[], seed: number) => ({ shape, data: uniform(shape.reduce((a, b) => a * b, 1), seed, 0.5, 2) });
  for (const [sa, sb] of [
    [[3, 4], [3, 4]],
    [[2, 3, 4], [4]],
    [[2, 1, 4], [3, 1]],
    [[3, 4], []],
  ] as number[][][]) {
    const tag = `[${sa}] vs [${sb}]`;
    assertGrad(`add ${tag}`, [input(sa, 20), input(sb, 21)], ([a, b]) => ag.add(a, b), TOL);
    assertGrad(`sub ${tag}`, [input(sa, 22), input(sb, 23)], ([a, b]) => ag.sub(a, b), TOL);
    assertGrad(`mul ${tag}`, [input(sa, 24), input(sb, 25)], ([a, b]) => ag.mul(a, b), TOL);
    assertGrad(`div ${tag}`, [input(sa, 26), pos(sb, 27)], ([a, b]) => ag.div(a, b), TOL);
  }
});

test('grad: unary functions', () => {
  const pos = { shape: [3, 5], data: uniform(15, 30, 0.5, 2) };
  assertGrad('scale', [input([3, 5], 31)], ([x]) => ag.scale(x, -1.5), TOL);
  assertGrad('addScalar', [input([3, 5], 32)], ([x]) => ag.addScalar(x, 0.7), TOL);
  assertGrad('neg', [input([3, 5], 33)], ([x]) => ag.neg(x), TOL);
  assertGrad('exp', [input([3, 5], 34)], ([x]) => ag.exp(x), TOL);
  assertGrad('log', [pos], ([x]) => ag.log(x), TOL);
  assertGrad('sqrt', [pos], ([x]) => ag.sqrt(x), TOL);
  assertGrad('square', [input([3, 5], 35)], ([x]) => ag.square(x), TOL);
  assertGrad('tanh', [input([3, 5], 36)], ([x]) => ag.tanh(x), TOL);
  assertGrad('sigmoid', [input([3, 5], 37, 2)], ([x]) => ag.sigmoid(x), TOL);
  assertGrad('silu', [input([3, 5], 38, 2)], ([x]) => ag.silu(x), TOL);
  assertGrad('softplus', [input([3, 5], 39, 3)], ([x]) => ag.softplus(x), TOL);
  assertGrad('swiglu', [input([3, 5], 40, 2), input([3, 5], 41)], ([g, u]) => ag.swiglu(g, u), TOL);
  assertGrad('softmax', [input([3, 6], 42)], ([x]) => ag.softmax(x), TOL);
});

test('grad: rmsnorm (with and without weight) and l2norm', () => {
  assertGrad('rmsnorm', [input([2, 3, 8], 50), input([8], 51)], ([x, w]) => ag.rmsnorm(x, w, 1e-5), TOL);
  assertGrad('rmsnorm no weight', [input([4, 8], 52)], ([x]) => ag.rmsnorm(x, null, 1e-5), TOL);
  assertGrad('l2norm', [input([2, 3, 2, 8], 53)], ([x]) => ag.l2norm(x, 1e-6), TOL);
});

test('grad: reductions and shape functions', () => {
  assertGrad('sum all', [input([3, 4], 60)], ([x]) => ag.sum(x), TOL);
  assertGrad('sum dim', [input([2, 3, 4], 61)], ([x]) => ag.sum(x, { dim: 1 }), TOL);
  assertGrad('sum dim keepDim', [input([2, 3, 4], 62)], ([x]) => ag.sum(x, { dim: -1, keepDim: true }), TOL);
  assertGrad('mean all', [input([3, 4], 63)], ([x]) => ag.mean(x), TOL);
  assertGrad('mean dim', [input([2, 3, 4], 64)], ([x]) => ag.mean(x, { dim: 0 }), TOL);
  assertGrad('reshape', [input([2, 6], 65)], ([x]) => ag.mul(ag.reshape(x, [3, 4]), ag.reshape(x, [3, 4])), TOL);
  assertGrad('transpose', [input([2, 3, 4], 66)], ([x]) => ag.transpose(x, 0, 2), TOL);
  assertGrad('slice', [input([3, 5, 2], 67)], ([x]) => ag.slice(x, 1, 1, 4), TOL);
  assertGrad('concat', [input([2, 2, 3], 68), input([2, 1, 3], 69), input([2, 3, 3], 70, 1, false)], ([a, b, c]) => ag.concat([a, b, c], 1), TOL);
});

test('grad: embedding, shortConv, causalAttention', () => {
  const ids = Tensor.from(new Int32Array([1, 3, 3, 0, 4, 1]), [2, 3]);
  assertGrad('embedding', [input([5, 4], 80)], ([w]) => ag.embedding(w, ids), TOL);
  assertGrad('shortConv', [input([2, 6, 3], 81), input([3, 4], 82)], ([x, w]) => ag.shortConv(x, w), TOL);
  assertGrad('causalAttention', [input([2, 5, 2, 4], 83), input([2, 5, 2, 4], 84), input([2, 5, 2, 3], 85)], ([q, k, v]) => ag.causalAttention(q, k, v), TOL);
  ids.dispose();
});

test('grad: crossEntropy (mean over non-ignored targets, sum, none)', () => {
  const targets = Tensor.from(new Int32Array([2, -100, 0, 4]), [4]);
  assertGrad('crossEntropy mean', [input([4, 5], 90)], ([x]) => ag.crossEntropy(x, targets), TOL);
  assertGrad('crossEntropy sum', [input([4, 5], 91)], ([x]) => ag.crossEntropy(x, targets, { reduction: 'sum' }), TOL);
  assertGrad('crossEntropy none', [input([4, 5], 92)], ([x]) => ag.crossEntropy(x, targets, { reduction: 'none' }), TOL);
  targets.dispose();
});

test('grad: kda (through the L2-normalised q/k and the log-space gate the layer uses)', () => {
  const [B, T, H, K] = [1, 9, 2, 4];
  const gateIn = input([B, T, H, K], 103);
  assertGrad(
    'kda',
    [input([B, T, H, K], 100), input([B, T, H, K], 101), input([B, T, H, K], 102), gateIn, input([B, T, H], 104)],
    ([q, k, v, f, b]) => {
      const g = ag.neg(ag.softplus(f)); // g ≤ 0, as in the layer
      return ag.kda(ag.l2norm(q), ag.l2norm(k), v, g, ag.sigmoid(b)).o;
    },
    TOL,
  );
});
