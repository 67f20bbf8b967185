// The argument checks that live once in native/shape_rules.h for the CPU ops and their CUDA twins: each refusal
// names the argument, what it got and what is allowed (on the CPU here; the CUDA ops call the same functions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops } from '../src';

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
