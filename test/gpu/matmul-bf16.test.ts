// GPU only (scripts/gpu-check.sh): the bf16-input CUDA matmul (cuBLASLt with CUDA_R_16BF inputs and fp32 compute
// when it is loaded, else cuda/gemm_kernels.cuh's bf16 variant) against the CPU GEMM run on the same bf16-rounded
// values in f32. Both accumulate in fp32 over identical inputs, so the fp32 bound holds: RMS-relative <= 1e-5.
// Then the autograd matmul under withPrecision('bf16'): forward and both gradients against the CPU products of the
// rounded operands, gradients f32 on the fp32 parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Parameter, Tensor, Var, ag, backward, ops, scope, syncCheck } from '../../src';
import { gemmBackend } from '../../src/native';
import { randn, rmsRel } from '../helpers';

const TOL = 1e-5;
let seed = 101;
const rand = (shape: number[]) => Tensor.from(randn(shape.reduce((a, b) => a * b, 1), seed++), shape);
/** x rounded to bf16 and widened back (exact): what the GPU multiplies, as an f32 CPU tensor. */
const rounded = (x: Tensor) => ops.cast(ops.cast(x, 'bf16'), 'f32');

function same(name: string, ref: Tensor, x: Tensor, tol = TOL) {
  assert.ok(x.device.startsWith('cuda'), `${name}: result left the GPU`);
  assert.equal(x.dtype, 'f32', `${name}: the product is f32`);
  assert.deepEqual(x.shape, ref.shape, `${name}: shape`);
  const e = rmsRel(ref.toFloat32Array(), x.toFloat32Array());
  assert.ok(e <= tol, `${name}: RMS-relative error ${e.toExponential(3)} > ${tol}`);
}

test('bf16 matmul on CUDA equals the CPU GEMM on bf16-rounded inputs (every transpose, batched, shared b)', () => {
  console.log(`gemm backend: ${JSON.stringify(gemmBackend())}`);
  const cases: [string, number[], number[], { transA?: boolean; transB?: boolean; alpha?: number }][] = [
    ['plain', [37, 61], [61, 45], {}],
    ['tA tB alpha', [130, 67], [5, 130], { transA: true, transB: true, alpha: 0.5 }],
    ['tA', [19, 33], [19, 70], { transA: true }],
    ['tB', [33, 19], [70, 19], { transB: true }],
    ['batched', [3, 2, 65, 17], [3, 2, 17, 66], {}],
    ['shared b', [4, 33, 100], [100, 70], {}],
    ['shared tB', [4, 33, 100], [70, 100], { transB: true }],
    ['odd K (unaligned rows of 2-byte elements)', [9, 333], [333, 7], {}],
    ['big', [256, 1024], [1024, 300], {}],
  ];
  for (const [name, sa, sb, o] of cases) {
    scope(() => {
      const a = rand(sa), b = rand(sb);
      const ref = ops.matmul(rounded(a), rounded(b), o);
      const a16 = ops.cast(a.to('cuda'), 'bf16'), b16 = ops.cast(b.to('cuda'), 'bf16');
      assert.equal(a16.dtype, 'bf16');
      same(`mm ${name}`, ref, ops.matmul(a16, b16, o));
    });
  }
  syncCheck();
});

test('bf16 matmul refuses mixed input dtypes, naming b', () => {
  const a = ops.cast(rand([4, 5]).to('cuda'), 'bf16');
  assert.throws(() => ops.matmul(a, rand([5, 3]).to('cuda')), /b: expected dtype bf16 like a/);
});

test("ag.matmul under withPrecision('bf16'): forward and gradients from bf16 operands, fp32 accumulation, f32 grads", () => {
  for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]]) {
    scope(() => {
      const [M, K, N] = [23, 45, 31];
      const x = rand(tA ? [K, M] : [M, K]);
      const w = rand(tB ? [N, K] : [K, N]);
      const g = rand([M, N]);
      const xs = new Parameter('x', x.to('cuda')), ws = new Parameter('w', w.to('cuda'));
      const y = ag.withPrecision('bf16', () => ag.matmul(xs, ws, { transA: tA, transB: tB }));
      const [xr, wr, gr] = [rounded(x), rounded(w), rounded(g)];
      same(`y tA=${tA} tB=${tB}`, ops.matmul(xr, wr, { transA: tA, transB: tB }), y.data);
      ag.withPrecision('bf16', () => backward(y as Var, g.to('cuda')));
      // dX = dY·op(W)ᵀ laid out like X; dW = op(X)ᵀ·dY laid out like W
      const dx = tA ? ops.matmul(wr, gr, { transA: tB, transB: true }) : ops.matmul(gr, wr, { transB: !tB });
      const dw = tB ? ops.matmul(gr, xr, { transA: true, transB: tA }) : ops.matmul(xr, gr, { transA: !tA });
      same(`dx tA=${tA} tB=${tB}`, dx, xs.grad!);
      same(`dw tA=${tA} tB=${tB}`, dw, ws.grad!);
    });
  }
  syncCheck();
});

test('bf16 precision leaves CPU matmuls fp32 (the scope only changes ops on a GPU)', () => {
  const x = new Parameter('x', rand([6, 7])), w = new Parameter('w', rand([7, 5]));
  const y = ag.withPrecision('bf16', () => ag.matmul(x, w));
  const ref = ops.matmul(x.data, w.data);
  assert.deepEqual(Array.from(y.data.toFloat32Array()), Array.from(ref.toFloat32Array()));
});
