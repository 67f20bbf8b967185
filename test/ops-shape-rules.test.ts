// The argument checks that live once in native/shape_rules.h for the CPU ops and their CUDA twins: each refusal
// names the argument, what it got and what is allowed (on the CPU here; the CUDA ops call the same functions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, adamw, kda, ops } from '../src';
import { native } from '../src/native';
import { fusedRuleCases, maker, thrown } from './fused-rule-cases';

const zeros = (shape: number[]) => Tensor.zeros(shape);
const ids = (v: number[], shape: number[]) => Tensor.from(new Int32Array(v), shape);

test('shape rules: short conv wants x [B,T,C] and w [C,W] with the same C', () => {
  assert.throws(() => ops.shortConv(zeros([2, 5]), zeros([3, 4])), /x: expected 3 dimensions \[B,T,C\], got \[2,5\]/);
  assert.throws(() => ops.shortConv(zeros([1, 5, 3]), zeros([3])), /w: expected 2 dimensions \[C,W\], got \[3\]/);
  assert.throws(() => ops.shortConv(zeros([1, 5, 3]), zeros([4, 2])), /w: expected shape \[C,W\] with C = 3 \(from x \[1,5,3\]\), got \[4,2\]/);
  assert.throws(() => ops.shortConvBackward(zeros([1, 5, 3]), zeros([1, 5, 3]), zeros([2, 2])), /w: expected shape \[C,W\] with C = 3/);
  assert.deepEqual(ops.shortConv(zeros([1, 5, 3]), zeros([3, 2])).shape, [1, 5, 3]);
});

test('shape rules: embedding backward wants V >= 1 and dOut [...ids.shape, D]', () => {
  assert.throws(() => ops.embeddingBackward(zeros([2, 4]), ids([0, 1], [2]), 0), /V: expected a vocabulary size >= 1, got 0/);
  assert.throws(() => ops.embeddingBackward(zeros([3, 4]), ids([0, 1], [2]), 5), /dOut: expected shape \[\.\.\.ids\.shape, D\] with ids \[2\], got \[3,4\]/);
  assert.throws(() => ops.embeddingBackward(zeros([2]), ids([0, 1], [2]), 5), /dOut: expected shape \[\.\.\.ids\.shape, D\]/);
  assert.deepEqual(ops.embeddingBackward(zeros([2, 4]), ids([0, 1], [2]), 5).shape, [5, 4]);
});

test('shape rules: concat checks dtype and shape of every tensor against tensors[0]', () => {
  assert.throws(() => ops.concat([zeros([2, 3]), ids([1, 2, 3, 4, 5, 6], [2, 3])], 0), /tensors\[1\]: expected dtype f32, got i32/);
  assert.throws(() => ops.concat([zeros([2, 3]), zeros([2, 3, 1])], 0), /tensors\[1\]: shape \[2,3,1\] must match tensors\[0\] \[2,3\] except along dim 0/);
  assert.deepEqual(ops.concat([zeros([2, 3]), zeros([2, 1]), zeros([2, 0])], -1).shape, [2, 4]);
});

test('shape rules: sliceBackward places dy only where it fits; argmax needs a non-empty last dimension', () => {
  assert.throws(() => ops.sliceBackward(zeros([2, 3]), [2, 5, 1], 1, 0), /dy: shape \[2,3\] at start 0 along dim 1 does not fit inputShape \[2,5,1\]/);
  assert.throws(() => ops.sliceBackward(zeros([2, 3]), [2, 5], 1, -2), /dy: shape \[2,3\] at start 3 along dim 1 does not fit inputShape \[2,5\]/);
  assert.deepEqual([...ops.sliceBackward(Tensor.from([1, 2, 3, 4], [2, 2]), [2, 3], 1, -2).toFloat32Array()], [0, 1, 2, 0, 3, 4]);
  assert.throws(() => ops.argmax(zeros([3, 0])), /x: argmax needs a non-empty last dimension, got \[3,0\]/);
  assert.throws(() => ops.argmax(zeros([])), /x: expected at least 1 dimension\(s\) \[\.\.\.,D\], got \[\]/);
});

// KDA, attention and AdamW (native/fused_rules.h): every rule's message from the raw CPU entry; test/cuda-exports.test.ts
// runs the same cases against the CUDA twins.
test('fused-op rules: the CPU entries name the argument, what it got and what is allowed', () => {
  const b = native() as unknown as Record<string, (...a: unknown[]) => unknown> & { fromArray: (...a: never[]) => unknown };
  const t = maker(b);
  for (const c of fusedRuleCases) {
    if (!c.cpu) continue;
    const msg = thrown(() => b[c.op](...c.args(t)));
    assert.match(msg, c.cpu, `${c.rule}: ${c.op} threw ${JSON.stringify(msg)}`);
  }
});

test('fused-op rules reach users unchanged through kda, ops and adamw', () => {
  const z = (s: number[], fill = 0) => Tensor.from(new Float32Array(s.reduce((x, y) => x * y, 1)).fill(fill), s);
  const [q, k, v, g, beta] = [z([1, 4, 2, 8]), z([1, 4, 2, 8]), z([1, 4, 2, 4]), z([1, 4, 2, 8], -0.5), z([1, 4, 2])];
  assert.throws(() => kda.forward(q, k, v, g, beta, { initialState: z([1, 2, 4, 8]) }),
    /initialState: expected shape \[B,H,K,V\] = \[1,2,8,4\], got \[1,2,4,8\]/);
  assert.throws(() => kda.forward(q, k, v, g, beta, { chunkSize: 16 }), /chunkSize: expected 32 or 64, got 16/);
  assert.throws(() => ops.causalAttention(q, z([1, 3, 2, 8]), v), /k: expected shape \[B,Tk,H,D\] with B,H,D = 1,2,8 and Tk >= Tq = 4/);
  assert.throws(() => ops.causalAttention(q, k, v, { scale: Infinity }), /scale: expected a finite number, got Infinity/);
  const p = z([2, 3]);
  assert.throws(() => adamw.step([p], [z([2, 3])], [z([2, 3])], [p], { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 }),
    /v\[0\]: shares memory with another params\/m\/v tensor of this call/);
});

test('sliceAccumulate adds dy into dst at [start, start + len) along dim, in place; refuses what does not fit', () => {
  const dst = ops.copy(Tensor.from([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]));
  ops.sliceAccumulate(dst, Tensor.from([10, 20, 30, 40], [2, 2]), 1, 1);
  assert.deepEqual([...dst.toFloat32Array()], [1, 12, 23, 4, 5, 36, 47, 8]);
  ops.sliceAccumulate(dst, Tensor.from([1, 1, 1, 1], [1, 4]), 0, -1);
  assert.deepEqual([...dst.toFloat32Array()], [1, 12, 23, 4, 6, 37, 48, 9]);
  assert.throws(() => ops.sliceAccumulate(dst, zeros([2, 3]), 1, 2), /dy: shape \[2,3\] at start 2 along dim 1 does not fit inputShape \[2,4\]/);
  assert.throws(() => ops.sliceAccumulate(dst, dst, 1, 0), /dst: must not share storage with dy/);
});
