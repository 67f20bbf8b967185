import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, memory, DisposedError } from '../src';

test('Tensor.from round-trips f32, i32 and bf16 data', () => {
  const t = Tensor.from(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(t.dtype, 'f32');
  assert.equal(t.device, 'cpu');
  assert.deepEqual([...t.toFloat32Array()], [1, 2, 3, 4, 5, 6]);
  const i = Tensor.from(new Int32Array([7, -8]), [2]);
  assert.equal(i.dtype, 'i32');
  assert.deepEqual([...i.toInt32Array()], [7, -8]);
  const b = Tensor.from([1.5, -2, 3.140625], [3], { dtype: 'bf16' });
  assert.deepEqual([...b.toFloat32Array()], [1.5, -2, 3.140625]);
  t.dispose();
  i.dispose();
  b.dispose();
});

test('dispose is idempotent, frees memory and later use throws', () => {
  const before = memory();
  const t = Tensor.zeros([128, 128]);
  assert.equal(memory().hostBytes - before.hostBytes, 128 * 128 * 4);
  assert.equal(memory().liveTensors, before.liveTensors + 1);
  t.dispose();
  t.dispose();
  assert.equal(memory().hostBytes, before.hostBytes);
  assert.equal(memory().liveTensors, before.liveTensors);
  assert.throws(() => t.toFloat32Array(), DisposedError);
  {
    using u = Tensor.zeros([4]);
    assert.equal(u.size, 4);
  }
  assert.equal(memory().hostBytes, before.hostBytes);
});

test('reshape shares storage and checks element counts', () => {
  const t = Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
  const r = t.reshape([4]);
  assert.deepEqual(r.shape, [4]);
  assert.deepEqual([...r.toFloat32Array()], [1, 2, 3, 4]);
  assert.throws(() => t.reshape([3]), /element counts differ/);
  t.dispose();
  r.dispose();
});

test('bad input names the argument', () => {
  assert.throws(() => Tensor.from(new Float32Array(3), [2, 2]), /data: has 3 elements but shape \[2,2\] needs 4/);
  assert.throws(() => Tensor.zeros([2, -1]), /shape: dimension 1 must be a non-negative integer/);
});
