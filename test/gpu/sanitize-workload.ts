// A small workload for compute-sanitizer (scripts/gpu-check.sh runs it under memcheck and racecheck when the
// tool is there): KDA forward and backward in f32 and bf16 at awkward sizes, and one call of each kind of op.
// Values are not checked here (test/gpu does that); the sanitizer reports out-of-bounds accesses and races.
import { Tensor, kda, moe, ops, syncCheck } from '../../src';
import { randn } from '../helpers';

let seed = 1;
const rand = (shape: number[], dtype: 'f32' | 'bf16' = 'f32') =>
  Tensor.from(randn(shape.reduce((a, b) => a * b, 1), seed++), shape, { dtype }).to('cuda');

for (const [T, K, V, C, dtype] of [[70, 40, 70, 64, 'f32'], [130, 20, 33, 32, 'bf16']] as const) {
  const [B, H] = [1, 2];
  const q = ops.l2norm(rand([B, T, H, K])).y, k = ops.l2norm(rand([B, T, H, K])).y;
  const cast = (t: Tensor) => (dtype === 'bf16' ? Tensor.from(t.toFloat32Array(), t.shape, { dtype }).to('cuda') : t);
  const g = ops.neg(ops.softplus(rand([B, T, H, K])));
  const beta = ops.sigmoid(rand([B, T, H]));
  const opts = { chunkSize: C, initialState: rand([B, H, K, V]) };
  kda.forward(cast(q), cast(k), cast(rand([B, T, H, V])), g, cast(beta), opts);
  kda.backward(cast(q), cast(k), cast(rand([B, T, H, V])), g, cast(beta), cast(rand([B, T, H, V])), { ...opts, dFinalState: rand([B, H, K, V]) });
}
ops.matmul(rand([3, 37, 61]), rand([61, 45]), { transB: false });
ops.add(rand([4, 1, 6]), rand([1, 5, 1]));
ops.sum(rand([3, 5, 7]), { dim: [0, 2] });
ops.softmax(rand([9, 300]));
ops.argmax(rand([9, 300]));
const x = rand([6, 130]);
ops.rmsnormBackward(rand([6, 130]), x, rand([130]), ops.rmsnorm(x, null, 1e-5).rstd);
ops.sumSquares([rand([1000])]);
ops.clipGradNorm([rand([1000]), rand([7, 3])], 0.5);
ops.sumToShape(rand([301, 70]), [70]);  // the column-segment path
ops.cast(ops.cast(rand([333]), 'bf16'), 'f32');
ops.matmul(ops.cast(rand([37, 61]), 'bf16'), ops.cast(rand([5, 61]), 'bf16'), { transB: true });  // bf16 GEMM inputs
const a = ops.causalAttention(rand([1, 37, 2, 40]), rand([1, 37, 2, 40]), rand([1, 37, 2, 24]));
ops.causalAttentionBackward(rand([1, 37, 2, 24]), rand([1, 37, 2, 40]), rand([1, 37, 2, 40]), rand([1, 37, 2, 24]), a.o, a.lse);
const logits = rand([5, 100]);
const targets = Tensor.from(Int32Array.from([1, 2, 3, -100, 99]), [5], { dtype: 'i32' }).to('cuda');
ops.crossEntropyBackward(rand([5]), logits, targets, ops.crossEntropy(logits, targets).lse);
ops.embeddingBackward(rand([4, 8]), Tensor.from(Int32Array.from([0, 3, 3, 9]), [4], { dtype: 'i32' }).to('cuda'), 10);
{  // MoE: grouped routing, an expert with no token (bias), the sort's scan over many chunks, per-segment GEMMs
  const [N, E, d, I] = [300, 12, 33, 17];
  const bias = Tensor.from(Float32Array.from({ length: E }, (_, e) => (e === 5 ? -100 : 0)), [E]).to('cuda');
  const r = moe.route(rand([N, E]), bias, { topK: 3, numGroups: 4, topkGroup: 2 });
  moe.routeBackward(rand([N, 3]), r.scores, r.indices, {});
  const [x, gu, dn] = [rand([N, d]), rand([E, 2 * I, d]), rand([E, d, I])];
  const e = moe.experts(x, gu, dn, r.indices, r.weights);
  moe.expertsBackward(rand([N, d]), x, gu, dn, r.indices, r.weights, e.h, e.ye);
}
// bad data: the device checks flag it and the kernels stay in bounds (the error comes at the synchronisation)
ops.embedding(rand([10, 8]), Tensor.from(Int32Array.from([0, 10, -1]), [3], { dtype: 'i32' }).to('cuda'));
ops.embeddingBackward(rand([3, 8]), Tensor.from(Int32Array.from([0, 10, -1]), [3], { dtype: 'i32' }).to('cuda'), 10);
ops.crossEntropy(rand([2, 7]), Tensor.from(Int32Array.from([7, -5]), [2], { dtype: 'i32' }).to('cuda'));
try {
  syncCheck('cuda');
  throw new Error('the bad ids were not reported');
} catch (e) {
  if (!/embedding: ids: id 10 at position \[1\]/.test((e as Error).message)) throw e;
}
ops.shortConvBackward(rand([2, 9, 5]), rand([2, 9, 5]), rand([5, 4]));
ops.transpose(ops.concat([rand([2, 3]), rand([2, 4])], 1), 0, 1);
ops.sliceBackward(ops.slice(rand([4, 10]), 1, 2, 7), [4, 10], 1, 2);
console.log('sanitize workload done');
