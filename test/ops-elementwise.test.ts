import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ops } from '../src';
import { assertClose } from './helpers';
import { assertSameBits, F64, numel, rand, vals } from './ops-ref';

/** float64 numpy-broadcast reference of a binary op. */
function broadcastRef(a: F64, as: number[], b: F64, bs: number[], f: (x: number, y: number) => number): { y: F64; shape: number[] } {
  const nd = Math.max(as.length, bs.length);
  const pa = [...Array(nd - as.length).fill(1), ...as], pb = [...Array(nd - bs.length).fill(1), ...bs];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const y = new Float64Array(numel(shape));
  const idx = new Array(nd).fill(0);
  for (let o = 0; o < y.length; o++) {
    let r = o;
    for (let d = nd - 1; d >= 0; d--) {
      idx[d] = r % shape[d];
      r = Math.floor(r / shape[d]);
    }
    let ia = 0, ib = 0;
    for (let d = 0; d < nd; d++) {
      ia = ia * pa[d] + (pa[d] === 1 ? 0 : idx[d]);
      ib = ib * pb[d] + (pb[d] === 1 ? 0 : idx[d]);
    }
    y[o] = f(a[ia], b[ib]);
  }
  return { y, shape };
}

const PAIRS: [number[], number[]][] = [
  [[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[5], []], [[1], [2, 3]], [[3, 1, 5, 1], [1, 4, 1, 6]],
  [[7, 1], [1, 9]], [[64, 1024], [1024]], [[2, 3, 1], [2, 3, 700]],
];
const BIN: [keyof typeof ops & ('add' | 'sub' | 'mul' | 'div'), (x: number, y: number) => number][] = [
  ['add', (x, y) => x + y], ['sub', (x, y) => x - y], ['mul', (x, y) => x * y], ['div', (x, y) => x / y],
];

test('add/sub/mul/div broadcast like numpy and match float64', () => {
  let seed = 1;
  for (const [as, bs] of PAIRS)
    for (const [name, f] of BIN) {
      const a = rand(as, seed++), b = rand(bs, seed++);
      const bt = name === 'div' ? Tensor.from(b.data.map((v) => (Math.abs(v) < 0.1 ? 0.5 : v)), bs) : b.t;
      const bx = name === 'div' ? Float64Array.from(bt.toFloat32Array()) : b.x;
      const y = ops[name](a.t, bt);
      const ref = broadcastRef(a.x, as, bx, bs, f);
      assert.deepEqual(y.shape, ref.shape, `${name} ${JSON.stringify(as)} ${JSON.stringify(bs)}`);
      assertClose(`${name} ${JSON.stringify(as)} ${JSON.stringify(bs)}`, ref.y, vals(y), 1e-6);
    }
});

test('broadcasting errors name the shapes', () => {
  assert.throws(() => ops.add(rand([2, 3], 1).t, rand([4], 2).t), /b: shape \[4\] does not broadcast with a's shape \[2,3\]/);
  assert.throws(() => ops.mul(rand([2], 1).t, Tensor.from(new Int32Array([1, 2]), [2])), /b: expected dtype f32, got i32/);
});

test('unary and scalar ops match float64 Math', () => {
  const x = rand([3, 37], 5);
  const pos = Tensor.from(x.data.map((v) => Math.abs(v) + 0.01), [3, 37]);
  const px = vals(pos);
  const cases: [string, Tensor, (v: number) => number, Tensor][] = [
    ['scale', ops.scale(x.t, -1.7), (v) => v * -1.7, x.t], ['addScalar', ops.addScalar(x.t, 0.3), (v) => v + 0.3, x.t],
    ['neg', ops.neg(x.t), (v) => -v, x.t], ['exp', ops.exp(x.t), Math.exp, x.t], ['log', ops.log(pos), Math.log, pos],
    ['sqrt', ops.sqrt(pos), Math.sqrt, pos], ['square', ops.square(x.t), (v) => v * v, x.t], ['tanh', ops.tanh(x.t), Math.tanh, x.t],
  ];
  for (const [name, y, f, input] of cases) {
    const src = input === pos ? px : x.x;
    assert.deepEqual(y.shape, [3, 37]);
    assertClose(name, src.map(f), vals(y), 1e-6);
  }
  assert.deepEqual([...vals(x.t)], [...x.x], 'inputs are unchanged');
});

test('full, copy and the in-place ops', () => {
  assert.deepEqual([...ops.full([2, 2], 2.5).toFloat32Array()], [2.5, 2.5, 2.5, 2.5]);
  assert.deepEqual(ops.full([], 1).shape, []);
  const a = rand([4, 5], 1), b = rand([4, 5], 2);
  const c = ops.copy(a.t);
  ops.addInPlace(c, b.t, 0.5);
  assertClose('addInPlace', a.x.map((v, i) => v + 0.5 * b.x[i]), vals(c), 1e-7);
  ops.addInPlace(c, b.t);
  assertClose('addInPlace alpha=1', a.x.map((v, i) => v + 1.5 * b.x[i]), vals(c), 1e-6);
  ops.scaleInPlace(c, 2);
  assertClose('scaleInPlace', a.x.map((v, i) => 2 * (v + 1.5 * b.x[i])), vals(c), 1e-6);
  ops.copyInPlace(c, b.t);
  assert.deepEqual([...c.toFloat32Array()], [...b.data]);
  assert.deepEqual([...a.t.toFloat32Array()], [...a.data], 'copy is independent of its source');
  const ids = Tensor.from(new Int32Array([1, 2, 3]), [3]);
  assert.deepEqual([...ops.copy(ids).toInt32Array()], [1, 2, 3]);
  assert.throws(() => ops.addInPlace(c, rand([5, 4], 3).t), /src: expected the shape of dst \[4,5\], got \[5,4\]/);
});

test('elementwise ops are bit-identical run to run (parallel sizes)', () => {
  const a = rand([300, 257], 7), b = rand([257], 8);
  assertSameBits('add', ops.add(a.t, b.t).toFloat32Array(), ops.add(a.t, b.t).toFloat32Array());
  assertSameBits('tanh', ops.tanh(a.t).toFloat32Array(), ops.tanh(a.t).toFloat32Array());
});

test('cast f32 <-> bf16: nearest bf16 (ties to even, overflow to inf, NaN kept), exact back', () => {
  // values whose bf16 neighbours are known from their bits: ties both ways, just above a tie, the largest float
  const bits = new Uint32Array([0x3f808000, 0x3f818000, 0x3f808001, 0xbf808000, 0x7f7fffff, 0x00000001, 0x80000000, 0x7fc00001]);
  const want = [0x3f80, 0x3f82, 0x3f81, 0xbf80, 0x7f80, 0x0000, 0x8000];
  const x = Tensor.from(new Float32Array(bits.buffer), [bits.length]);
  const h = ops.cast(x, 'bf16');
  assert.equal(h.dtype, 'bf16');
  const back = ops.cast(h, 'f32');
  assert.equal(back.dtype, 'f32');
  const got = new Uint32Array(back.toFloat32Array().buffer);
  want.forEach((w, i) => assert.equal(got[i] >>> 16, w, `element ${i}: 0x${bits[i].toString(16)}`));
  assert.ok(Number.isNaN(back.toFloat32Array()[7]));
  assert.deepEqual([...ops.cast(back, 'f32').toFloat32Array()].slice(0, 7), [...back.toFloat32Array()].slice(0, 7));
  assert.throws(() => ops.cast(x, 'f16' as 'bf16'), /dtype: expected "f32" or "bf16", got "f16"/);
  assert.throws(() => ops.cast(Tensor.from(new Int32Array([1]), [1]), 'f32'), /x: expected dtype f32 or bf16, got i32/);
});
