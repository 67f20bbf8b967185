import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, keep, memory, scope } from '../src';

test('scope disposes what it created except returned and kept tensors', () => {
  const before = memory().liveStorages;
  const outside = Tensor.zeros([2]);
  let inner!: Tensor;
  let kept!: Tensor;
  const r = scope(() => {
    inner = Tensor.zeros([3]);
    kept = keep(Tensor.zeros([4]));
    const ret = Tensor.zeros([5]);
    return { a: [ret], n: 1 };
  });
  assert.equal(inner.disposed, true);
  assert.equal(kept.disposed, false);
  assert.equal(outside.disposed, false);
  assert.equal(r.a[0].disposed, false);
  r.a[0].dispose();
  kept.dispose();
  outside.dispose();
  assert.equal(memory().liveStorages, before); // liveTensors counts handles until GC, so storages are checked
});

test('nested scopes hand returned tensors to the enclosing scope', () => {
  let mid!: Tensor;
  const outer = scope(() => {
    mid = scope(() => Tensor.zeros([2]));
    assert.equal(mid.disposed, false);
    return 7;
  });
  assert.equal(outer, 7);
  assert.equal(mid.disposed, true); // returned from the inner scope, not from the outer one
});

test('scope frees everything when fn throws, and rejects Promises', () => {
  let t!: Tensor;
  assert.throws(() =>
    scope(() => {
      t = Tensor.zeros([2]);
      throw new Error('boom');
    }),
  /boom/);
  assert.equal(t.disposed, true);
  assert.throws(() => scope(() => Promise.resolve(1) as unknown as number), /synchronous/);
});

test('scope tolerates tensors disposed inside it', () => {
  scope(() => {
    const t = Tensor.zeros([2]);
    t.dispose();
    return null;
  });
});
