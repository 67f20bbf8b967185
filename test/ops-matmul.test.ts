import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ops, setNumThreads, getNumThreads } from '../src';
import { assertClose } from './helpers';
import { assertSameBits, matmulRef, rand, vals } from './ops-ref';

// [M, K, N]: odd sizes, K beyond one KC slice (256), M beyond one MC block (336), N beyond one NC block
// (4096), and products big enough to take the multi-threaded path (with several row blocks and K slices).
const SIZES: [number, number, number][] = [
  [1, 1, 1], [5, 7, 3], [13, 17, 29], [33, 65, 47], [15, 300, 33], [350, 20, 40], [3, 5, 4100], [150, 120, 130],
  [400, 800, 70],
];

test('matmul matches a float64 reference for every transpose combination and awkward size', () => {
  let seed = 1;
  for (const [M, K, N] of SIZES)
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const a = rand(transA ? [K, M] : [M, K], seed++);
        const b = rand(transB ? [N, K] : [K, N], seed++);
        const alpha = transA && transB ? 0.37 : 1;
        const c = ops.matmul(a.t, b.t, { transA, transB, alpha });
        assert.deepEqual(c.shape, [M, N]);
        assertClose(`matmul ${M}x${K}x${N} tA=${transA} tB=${transB}`, matmulRef(a.x, b.x, M, N, K, transA, transB, alpha), vals(c), 1e-5);
      }
});

test('batched matmul: per-batch b, shared 2-D b, with transposes', () => {
  const [B1, B2, M, K, N] = [2, 3, 7, 11, 5];
  for (const transA of [false, true])
    for (const transB of [false, true])
      for (const shared of [false, true]) {
        const a = rand(transA ? [B1, B2, K, M] : [B1, B2, M, K], 10);
        const b = rand(shared ? (transB ? [N, K] : [K, N]) : transB ? [B1, B2, N, K] : [B1, B2, K, N], 11);
        const c = ops.matmul(a.t, b.t, { transA, transB });
        assert.deepEqual(c.shape, [B1, B2, M, N]);
        const ref = new Float64Array(B1 * B2 * M * N);
        for (let i = 0; i < B1 * B2; i++) {
          const bi = shared ? b.x : b.x.subarray(i * K * N, (i + 1) * K * N);
          ref.set(matmulRef(a.x.subarray(i * M * K, (i + 1) * M * K), bi, M, N, K, transA, transB), i * M * N);
        }
        assertClose(`batched tA=${transA} tB=${transB} shared=${shared}`, ref, vals(c), 1e-5);
      }
});

test('matmul backward identities (dA = dC B^T, dB = A^T dC) agree with the reference', () => {
  const [M, K, N] = [9, 14, 6];
  const a = rand([M, K], 20), b = rand([K, N], 21), dc = rand([M, N], 22);
  const dA = ops.matmul(dc.t, b.t, { transB: true });
  const dB = ops.matmul(a.t, dc.t, { transA: true });
  assertClose('dA', matmulRef(dc.x, b.x, M, K, N, false, true), vals(dA), 1e-5);
  assertClose('dB', matmulRef(a.x, dc.x, K, N, M, true, false), vals(dB), 1e-5);
});

test('matmul is bit-identical run to run and across thread counts', () => {
  const before = getNumThreads();
  for (const [M, K, N] of [[301, 257, 190], [700, 800, 70]]) {
    const a = rand([M, K], 30), b = rand([K, N], 31);
    const r1 = ops.matmul(a.t, b.t).toFloat32Array();
    const r2 = ops.matmul(a.t, b.t).toFloat32Array();
    assertSameBits('matmul rerun', r1, r2);
    try {
      setNumThreads(1);
      assertSameBits(`matmul ${M}x${K}x${N} 1 thread vs default`, r1, ops.matmul(a.t, b.t).toFloat32Array());
      setNumThreads(3);
      assertSameBits(`matmul ${M}x${K}x${N} 3 threads vs default`, r1, ops.matmul(a.t, b.t).toFloat32Array());
    } finally {
      setNumThreads(before);
    }
  }
});

// The team shares packed B blocks in two buffers used by turns (native/gemm.cc): several K slices and two N blocks
// walk the buffers through more than one reuse; every transpose combination must match one thread bit for bit.
test('matmul with several K slices and N blocks: 2 and 3 threads equal 1 thread bit for bit', () => {
  const before = getNumThreads();
  const [M, K, N] = [130, 900, 4150];
  try {
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const a = rand(transA ? [K, M] : [M, K], 40), b = rand(transB ? [N, K] : [K, N], 41);
        setNumThreads(1);
        const r1 = ops.matmul(a.t, b.t, { transA, transB }).toFloat32Array();
        for (const n of [2, 3]) {
          setNumThreads(n);
          assertSameBits(`matmul transA=${transA} transB=${transB} ${n} threads vs 1`, r1, ops.matmul(a.t, b.t, { transA, transB }).toFloat32Array());
        }
      }
  } finally {
    setNumThreads(before);
  }
});

test('matmul edge sizes: K = 0 gives zeros, empty M / N / batch give empty results', () => {
  assert.deepEqual([...ops.matmul(rand([2, 0], 1).t, rand([0, 3], 2).t).toFloat32Array()], [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(ops.matmul(rand([0, 4], 1).t, rand([4, 3], 2).t).shape, [0, 3]);
  assert.deepEqual(ops.matmul(rand([2, 4], 1).t, rand([4, 0], 2).t).shape, [2, 0]);
  assert.deepEqual(ops.matmul(rand([0, 2, 4], 1).t, rand([0, 4, 3], 2).t).shape, [0, 2, 3]);
});

test('matmul rejects mismatched shapes by name', () => {
  const a = rand([3, 4], 1).t, b = rand([5, 2], 2).t;
  assert.throws(() => ops.matmul(a, b), /b: expected shape \[\.\.\.,K,N\] with K = 4/);
  assert.throws(() => ops.matmul(rand([2, 3, 4], 3).t, rand([3, 4, 2], 4).t), /b: batch dimensions \[3\] must equal a's \[2\]/);
  assert.throws(() => ops.matmul(rand([4], 3).t, b), /a: expected at least 2 dimension/);
  assert.throws(() => ops.matmul(a, {} as any), /b: expected a Tensor/);
});

test('matmulAccumulate adds the product into c in place (shared 2-D b, transposes, K over one slice); refusals', () => {
  let seed = 900;
  for (const [M, K, N] of [[5, 7, 3], [33, 65, 47], [400, 800, 70]] as [number, number, number][])
    for (const transB of [false, true]) {
      const a = rand([2, M, K], seed++);
      const b = rand(transB ? [N, K] : [K, N], seed++);
      const c0 = rand([2, M, N], seed++);
      const c = ops.copy(c0.t);
      ops.matmulAccumulate(c, a.t, b.t, { transB });
      const ref = new Float64Array(2 * M * N);
      for (let i = 0; i < 2; i++) {
        const p = matmulRef(a.x.subarray(i * M * K, (i + 1) * M * K), b.x, M, N, K, false, transB);
        for (let j = 0; j < M * N; j++) ref[i * M * N + j] = c0.x[i * M * N + j] + p[j];
      }
      assertClose(`matmulAccumulate ${M}x${K}x${N} tB=${transB}`, ref, vals(c), 1e-5);
      for (const t of [a.t, b.t, c0.t, c]) t.dispose();
    }
  const a = rand([4, 3], 1), b = rand([3, 5], 2);
  const wrong = ops.full([4, 4], 0);
  assert.throws(() => ops.matmulAccumulate(wrong, a.t, b.t), /c: expected the product's shape \[4,5\], got \[4,4\]/);
  const sq = rand([3, 3], 3);
  assert.throws(() => ops.matmulAccumulate(sq.t, sq.t, sq.t), /c: must not share storage/);
  for (const t of [a.t, b.t, wrong, sq.t]) t.dispose();
});
