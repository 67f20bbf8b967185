// KDA: the native chunked kernels against a float64 token-by-token reference (docs/design/kda.md §2 and §4.1; src/reference/kda.ts),
// which is itself checked against central finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Tensor, kda, setNumThreads, getNumThreads } from '../src';
import { loadAddon } from '../src/native';
import { kdaForward, kdaBackward } from '../src/reference';
import { assertClose as assertClose0, randn, rmsRel, rng, uniform } from './helpers';

// ---- the float64 reference lives in the library (src/reference/kda.ts) --------------------------------------

interface Inputs {
  B: number;
  T: number;
  H: number;
  K: number;
  V: number;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  g: Float32Array;
  beta: Float32Array;
  h0: Float32Array | null;
  dO: Float32Array;
  dht: Float32Array | null;
  scale: number;
}

const refForward = (x: Inputs) => kdaForward(x);
const refBackward = (x: Inputs, states: Float64Array[]) => kdaBackward(x, states);

// ---- inputs ----------------------------------------------------------------------------------------------

interface Case {
  B: number;
  T: number;
  H: number;
  K: number;
  V: number;
  h0?: boolean;
  dht?: boolean;
  strong?: boolean; // some channels with g in [-20, -5]
  chunk?: number;
  scale?: number;
}

function l2rows(x: Float32Array, D: number): Float32Array {
  for (let i = 0; i < x.length; i += D) {
    let s = 0;
    for (let d = 0; d < D; d++) s += x[i + d] * x[i + d];
    const r = 1 / Math.sqrt(s + 1e-6);
    for (let d = 0; d < D; d++) x[i + d] *= r;
  }
  return x;
}

function makeInputs(c: Case, seed: number): Inputs {
  const { B, T, H, K, V } = c;
  const nk = B * T * H * K;
  const q = l2rows(uniform(nk, seed + 1, -0.2, 1), K);
  const k = l2rows(uniform(nk, seed + 2, -0.2, 1), K);
  const v = randn(B * T * H * V, seed + 3);
  // log-sigmoid decays of moderate size (like fla's tests), with every 5th channel strongly decaying if asked
  const z = randn(nk, seed + 4, 1.5);
  const strongVals = uniform(nk, seed + 5, -20, -5);
  const g = new Float32Array(nk);
  for (let i = 0; i < nk; i++) {
    const ls = -Math.log1p(Math.exp(-(z[i] + 2))); // log sigmoid(z + 2) in (-inf, 0)
    g[i] = c.strong && (i % K) % 5 === 1 ? strongVals[i] : ls;
  }
  const bz = randn(B * T * H, seed + 6);
  const beta = bz.map((x) => 1 / (1 + Math.exp(-x)));
  const h0 = c.h0 ? randn(B * H * K * V, seed + 7, 0.5) : null;
  const dO = randn(B * T * H * V, seed + 8);
  const dht = c.dht ? randn(B * H * K * V, seed + 9) : null;
  return { B, T, H, K, V, q, k, v, g, beta, h0, dO, dht, scale: c.scale ?? 1 / Math.sqrt(K) };
}

function tensors(x: Inputs) {
  const { B, T, H, K, V } = x;
  return {
    q: Tensor.from(x.q, [B, T, H, K]),
    k: Tensor.from(x.k, [B, T, H, K]),
    v: Tensor.from(x.v, [B, T, H, V]),
    g: Tensor.from(x.g, [B, T, H, K]),
    beta: Tensor.from(x.beta, [B, T, H]),
    h0: x.h0 ? Tensor.from(x.h0, [B, H, K, V]) : null,
    dO: Tensor.from(x.dO, [B, T, H, V]),
    dht: x.dht ? Tensor.from(x.dht, [B, H, K, V]) : null,
  };
}

function disposeAll(...ts: (Tensor | null | undefined | object)[]) {
  for (const t of ts) {
    if (!t) continue;
    if (t instanceof Tensor) t.dispose();
    else for (const u of Object.values(t)) if (u instanceof Tensor) u.dispose();
  }
}

const TOL = 1e-4;
function assertClose(name: string, ref: ArrayLike<number>, x: ArrayLike<number>, tol: number) {
  if (process.env.KDA_SHOW_ERR === '1') console.log(`${name}: ${rmsRel(ref, x).toExponential(2)}`);
  assertClose0(name, ref, x, tol);
}

function checkCase(c: Case, seed: number) {
  const x = makeInputs(c, seed);
  const ref = refForward(x);
  const rb = refBackward(x, ref.states);
  const t = tensors(x);
  const opts = { scale: c.scale, chunkSize: c.chunk, initialState: t.h0 };
  const f = kda.forward(t.q, t.k, t.v, t.g, t.beta, opts);
  const name = `B${c.B} T${c.T} H${c.H} K${c.K} V${c.V}${c.h0 ? ' h0' : ''}${c.dht ? ' dht' : ''}${c.strong ? ' strong' : ''} C${c.chunk ?? 64}`;
  assertClose(`${name} o`, ref.o, f.o.toFloat32Array(), TOL);
  assertClose(`${name} finalState`, ref.ht, f.finalState.toFloat32Array(), TOL);
  const gr = kda.backward(t.q, t.k, t.v, t.g, t.beta, t.dO, { ...opts, dFinalState: t.dht });
  assertClose(`${name} dq`, rb.dq, gr.dq.toFloat32Array(), TOL);
  assertClose(`${name} dk`, rb.dk, gr.dk.toFloat32Array(), TOL);
  assertClose(`${name} dv`, rb.dv, gr.dv.toFloat32Array(), TOL);
  assertClose(`${name} dg`, rb.dg, gr.dg.toFloat32Array(), TOL);
  assertClose(`${name} dbeta`, rb.dbeta, gr.dbeta.toFloat32Array(), TOL);
  if (c.h0) {
    assert.ok(gr.dInitialState, 'dInitialState is returned when initialState is given');
    assertClose(`${name} dInitialState`, rb.dh0, gr.dInitialState.toFloat32Array(), TOL);
  } else {
    assert.equal(gr.dInitialState, null);
  }
  disposeAll(t, f, gr);
}

// ---- tests -----------------------------------------------------------------------------------------------

test('kda reference backward matches central finite differences (float64)', () => {
  const x = makeInputs({ B: 1, T: 5, H: 1, K: 3, V: 2, h0: true, dht: true }, 11);
  const ref = refForward(x);
  const rb = refBackward(x, ref.states);
  // loss = Σ o⊙dO + Σ ht⊙dht, evaluated in float64 on perturbed copies (inputs held as Float64Array)
  const loss = (y: Inputs) => {
    const r = refForward(y);
    let s = 0;
    for (let i = 0; i < r.o.length; i++) s += r.o[i] * y.dO[i];
    for (let i = 0; i < r.ht.length; i++) s += r.ht[i] * y.dht![i];
    return s;
  };
  const as64 = (y: Inputs): Inputs => ({
    ...y,
    q: Float64Array.from(y.q) as unknown as Float32Array,
    k: Float64Array.from(y.k) as unknown as Float32Array,
    v: Float64Array.from(y.v) as unknown as Float32Array,
    g: Float64Array.from(y.g) as unknown as Float32Array,
    beta: Float64Array.from(y.beta) as unknown as Float32Array,
    h0: Float64Array.from(y.h0!) as unknown as Float32Array,
  });
  const base = as64(x);
  const eps = 1e-6;
  const grads: [keyof Inputs, Float64Array][] = [
    ['q', rb.dq],
    ['k', rb.dk],
    ['v', rb.dv],
    ['g', rb.dg],
    ['beta', rb.dbeta],
    ['h0', rb.dh0],
  ];
  for (const [key, grad] of grads) {
    const arr = base[key] as unknown as Float64Array;
    for (let i = 0; i < arr.length; i++) {
      const keep = arr[i];
      arr[i] = keep + eps;
      const lp = loss(base);
      arr[i] = keep - eps;
      const lm = loss(base);
      arr[i] = keep;
      const fd = (lp - lm) / (2 * eps);
      assert.ok(Math.abs(fd - grad[i]) <= 1e-6 * Math.max(1, Math.abs(fd)), `d${String(key)}[${i}]: fd ${fd} vs ${grad[i]}`);
    }
  }
});

test('kda chunked forward/backward match the float64 reference: awkward T, K, V', () => {
  const cases: Case[] = [
    { B: 1, T: 1, H: 2, K: 60, V: 60, h0: true, dht: true },
    { B: 2, T: 63, H: 1, K: 7, V: 5, dht: true },
    { B: 1, T: 64, H: 2, K: 128, V: 128, h0: true },
    { B: 1, T: 65, H: 2, K: 100, V: 60 },
    { B: 1, T: 130, H: 1, K: 64, V: 100, h0: true, dht: true, chunk: 32 },
    { B: 1, T: 200, H: 1, K: 60, V: 60, h0: true, dht: true },
    { B: 1, T: 130, H: 1, K: 128, V: 128, h0: true, dht: true },
  ];
  cases.forEach((c, i) => checkCase(c, 100 + i));
});

test('kda stays exact with strong decays (g in [-20, -5] on some channels)', () => {
  const cases: Case[] = [
    { B: 1, T: 200, H: 1, K: 64, V: 64, h0: true, dht: true, strong: true },
    { B: 1, T: 65, H: 2, K: 100, V: 7, h0: true, strong: true, chunk: 32 },
    { B: 1, T: 130, H: 1, K: 128, V: 60, dht: true, strong: true, scale: 0.3 },
  ];
  cases.forEach((c, i) => checkCase(c, 200 + i));
});

test('kda handles full resets (g = -inf) and huge decays exactly', () => {
  const x = makeInputs({ B: 1, T: 100, H: 2, K: 20, V: 12, h0: true, dht: true }, 41);
  for (let i = 0; i < x.g.length; i += 37) x.g[i] = -Infinity;
  for (let i = 5; i < x.g.length; i += 53) x.g[i] = -1e6;
  const ref = refForward(x);
  const rb = refBackward(x, ref.states);
  const t = tensors(x);
  const f = kda.forward(t.q, t.k, t.v, t.g, t.beta, { initialState: t.h0 });
  const gr = kda.backward(t.q, t.k, t.v, t.g, t.beta, t.dO, { initialState: t.h0, dFinalState: t.dht });
  assertClose('reset o', ref.o, f.o.toFloat32Array(), TOL);
  assertClose('reset finalState', ref.ht, f.finalState.toFloat32Array(), TOL);
  assertClose('reset dq', rb.dq, gr.dq.toFloat32Array(), TOL);
  assertClose('reset dk', rb.dk, gr.dk.toFloat32Array(), TOL);
  assertClose('reset dv', rb.dv, gr.dv.toFloat32Array(), TOL);
  assertClose('reset dg', rb.dg, gr.dg.toFloat32Array(), TOL);
  assertClose('reset dbeta', rb.dbeta, gr.dbeta.toFloat32Array(), TOL);
  assertClose('reset dInitialState', rb.dh0, gr.dInitialState!.toFloat32Array(), TOL);
  disposeAll(t, f, gr);
});

test('kda is deterministic and independent of the thread count', () => {
  const x = makeInputs({ B: 2, T: 150, H: 2, K: 64, V: 32, h0: true, dht: true }, 7);
  const t = tensors(x);
  const run = () => {
    const f = kda.forward(t.q, t.k, t.v, t.g, t.beta, { initialState: t.h0 });
    const gr = kda.backward(t.q, t.k, t.v, t.g, t.beta, t.dO, { initialState: t.h0, dFinalState: t.dht });
    const out = [f.o, f.finalState, gr.dq, gr.dk, gr.dv, gr.dg, gr.dbeta, gr.dInitialState!].map((y) => y.toFloat32Array());
    disposeAll(f, gr);
    return out;
  };
  const threads = getNumThreads();
  const a = run();
  const b = run();
  setNumThreads(1);
  const c = run();
  setNumThreads(threads);
  for (let i = 0; i < a.length; i++) {
    assert.deepEqual(b[i], a[i], `output ${i} differs between runs`);
    assert.deepEqual(c[i], a[i], `output ${i} differs with 1 thread`);
  }
  disposeAll(t);
});

test('kda AVX2 and scalar code paths match the reference too', () => {
  // The ISA is chosen once per process, so each variant runs in a child process on the raw binding.
  const x = makeInputs({ B: 1, T: 70, H: 2, K: 36, V: 20, h0: true, dht: true, strong: true }, 31);
  const ref = refForward(x);
  const rb = refBackward(x, ref.states);
  const addon = loadAddon().path;
  const script = `
    const b = require(process.argv[1]);
    const inp = JSON.parse(require('fs').readFileSync(0, 'utf8'));
    const T = (a, s) => b.fromArray(Float32Array.from(a), s, 'f32', 'cpu');
    const [B, Tn, H, K, V] = inp.dims;
    const q = T(inp.q, [B, Tn, H, K]), k = T(inp.k, [B, Tn, H, K]), v = T(inp.v, [B, Tn, H, V]);
    const g = T(inp.g, [B, Tn, H, K]), beta = T(inp.beta, [B, Tn, H]), h0 = T(inp.h0, [B, H, K, V]);
    const dO = T(inp.dO, [B, Tn, H, V]), dht = T(inp.dht, [B, H, K, V]);
    const f = b.kdaForward(q, k, v, g, beta, { initialState: h0 });
    const r = b.kdaBackward(q, k, v, g, beta, dO, { initialState: h0, dFinalState: dht });
    const out = { isa: b.kdaIsa(), o: f.o, ht: f.finalState, dq: r.dq, dk: r.dk, dv: r.dv, dg: r.dg, dbeta: r.dbeta, dh0: r.dInitialState };
    for (const key of Object.keys(out)) if (key !== 'isa') out[key] = Array.from(out[key].toArray());
    process.stdout.write(JSON.stringify(out));`;
  const input = JSON.stringify({
    dims: [x.B, x.T, x.H, x.K, x.V],
    ...Object.fromEntries((['q', 'k', 'v', 'g', 'beta', 'h0', 'dO', 'dht'] as const).map((key) => [key, Array.from(x[key]!)])),
  });
  for (const isa of ['avx2', 'scalar']) {
    const r = spawnSync(process.execPath, ['-e', script, path.resolve(addon)], {
      input,
      encoding: 'utf8',
      env: { ...process.env, RECLIN_KDA_ISA: isa },
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    // The forced variant must be the one that ran: AVX2 wherever the CPU has it (the dispatch needs avx2 + fma).
    const cpu = loadAddon().binding.cpuFeatures();
    const want = isa === 'avx2' && cpu.avx2 && cpu.fma ? 'avx2' : 'scalar';
    assert.equal(out.isa, want, `RECLIN_KDA_ISA=${isa} on a CPU with ${JSON.stringify(cpu)}`);
    const pairs: [string, Float64Array][] = [
      ['o', ref.o],
      ['ht', ref.ht],
      ['dq', rb.dq],
      ['dk', rb.dk],
      ['dv', rb.dv],
      ['dg', rb.dg],
      ['dbeta', rb.dbeta],
      ['dh0', rb.dh0],
    ];
    for (const [key, want] of pairs) assertClose(`${out.isa} ${key}`, want, out[key], TOL);
  }
});

test('kda handles empty sequences and returns the initial state', () => {
  const h0 = Tensor.from(randn(2 * 3 * 4, 3), [1, 2, 3, 4]);
  const z = (s: number[]) => Tensor.zeros(s);
  const q = z([1, 0, 2, 3]);
  const k = z([1, 0, 2, 3]);
  const g = z([1, 0, 2, 3]);
  const v = z([1, 0, 2, 4]);
  const beta = z([1, 0, 2]);
  const f = kda.forward(q, k, v, g, beta, { initialState: h0 });
  assert.deepEqual(f.o.shape, [1, 0, 2, 4]);
  assert.deepEqual([...f.finalState.toFloat32Array()], [...h0.toFloat32Array()]);
  disposeAll(h0, q, k, g, v, beta, f);
});

test('kda rejects bad arguments with errors naming the argument and the expected shape', () => {
  const B = 2,
    T = 65,
    H = 3,
    K = 60,
    V = 20;
  const r = rng(5);
  const mk = (s: number[], f = () => r() - 0.5) => Tensor.from(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, f), s);
  const q = mk([B, T, H, K]);
  const k = mk([B, T, H, K]);
  const v = mk([B, T, H, V]);
  const g = mk([B, T, H, K], () => -r());
  const beta = mk([B, T, H], () => r());
  const dO = mk([B, T, H, V]);
  const kBad = mk([B, T, H, K + 1]);
  assert.throws(() => kda.forward(q, kBad, v, g, beta), /k: expected shape \[B,T,H,K\] = \[2,65,3,60\], got \[2,65,3,61\]/);
  assert.throws(() => kda.forward(q, k, mk([B, T + 1, H, V]), g, beta), /v: expected shape \[B,T,H,V\] = \[2,65,3,20\], got \[2,66,3,20\]/);
  assert.throws(() => kda.forward(q, k, v, mk([B, T, H, K - 1], () => -1), beta), /g: expected shape \[B,T,H,K\]/);
  assert.throws(() => kda.forward(q, k, v, g, mk([B, T, H, 1])), /beta: expected shape \[B,T,H\] = \[2,65,3\], got \[2,65,3,1\]/);
  assert.throws(() => kda.forward(mk([B, T, H * K]), k, v, g, beta), /q: expected 4 dimensions \[B,T,H,K\], got \[2,65,180\]/);
  assert.throws(
    () => kda.forward(q, k, v, g, beta, { initialState: mk([B, H, V, K]) }),
    /initialState: expected shape \[B,H,K,V\] = \[2,3,60,20\], got \[2,3,20,60\]/,
  );
  assert.throws(
    () => kda.backward(q, k, v, g, beta, dO, { dFinalState: mk([B, H, K, V + 1]) }),
    /dFinalState: expected shape \[B,H,K,V\] = \[2,3,60,20\], got \[2,3,60,21\]/,
  );
  assert.throws(() => kda.backward(q, k, v, g, beta, mk([B, T, H, K])), /dO: expected shape \[B,T,H,V\] = \[2,65,3,20\], got \[2,65,3,60\]/);
  const qi = Tensor.from(new Int32Array(B * T * H * K), [B, T, H, K]);
  assert.throws(() => kda.forward(qi, k, v, g, beta), /q: expected dtype f32, got i32/);
  const gPos = Tensor.from(g.toFloat32Array().map((x, i) => (i === 7 ? 0.25 : x)), [B, T, H, K]);
  assert.throws(() => kda.forward(q, k, v, gPos, beta), /g: expected log decays <= 0 everywhere, got 0.25.* at \[0,0,0,7\]/);
  assert.throws(() => kda.forward(q, k, v, g, beta, { chunkSize: 48 }), /chunkSize: expected 32 or 64, got 48/);
  assert.throws(() => kda.forward(q, k, v, g, beta, { scale: NaN }), /scale: expected a finite number/);
  assert.throws(() => kda.forward(q, k, v, g, undefined as unknown as Tensor), /beta: expected a Tensor, got undefined/);
  const gone = mk([B, T, H, K]);
  gone.dispose();
  assert.throws(() => kda.forward(q, gone, v, g, beta), /k: tensor was disposed/);
  disposeAll(q, k, v, g, beta, dO, kBad, qi, gPos);
});
