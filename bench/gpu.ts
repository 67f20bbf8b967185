// Our side of the GPU benchmark (scripts/gpu-check.sh): CUDA KDA forward and forward+backward
// at the shapes, and fused AdamW at 1e8 parameters. Wall-clock per call after a warm-up, with a device
// synchronisation before and after; median of the repetitions. Prints one JSON line per measurement.
// KDA runs with bf16 storage of q, k, v, beta, dO (as the peer) and with f32 storage. MoE: routing + routed experts
// (fp32) at one mid-sized layer shape, beside bench/peers.py's torch per-expert loop at the same shape.
import { Tensor, adamw, kda, moe, ops } from '../src';
import { native } from '../src/native/loader';

const sync = () => (native() as unknown as { cudaSynchronize(d: number): void }).cudaSynchronize(0);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median milliseconds of f() (each result disposed), after one warm-up call; fewer repetitions when slow. */
function time(f: () => Tensor[], reps: number): number {
  sync();
  const w0 = process.hrtime.bigint();
  f().forEach((t) => t.dispose());
  sync();
  const warm = Number(process.hrtime.bigint() - w0) / 1e6;
  if (warm > 1000) reps = 1;
  else if (warm > 250) reps = Math.min(reps, 3);
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    const out = f();
    sync();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    out.forEach((t) => t.dispose());
  }
  return median(ms);
}

/** Fast seeded uniform [lo, hi) values (an LCG: these are timings, not statistics). */
function fill(n: number, seed: number, lo: number, hi: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return a;
}

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const shapes: [number, number, number, number][] = [
  [8, 4096, 16, 128],
  [1, 16384, 16, 128],
  [4, 2048, 32, 64],
];
const reps = Number(process.env.RECLIN_BENCH_REPS ?? 5);

function benchKda(B: number, T: number, H: number, D: number, dtype: 'bf16' | 'f32') {
  const n = B * T * H * D;
  // q, k, v, beta, dO stored in `dtype` (bf16 as in the peer run); g f32
  const up = (a: Float32Array, shape: number[], dt: 'bf16' | 'f32' = dtype) => Tensor.from(a, shape, { dtype: dt }).to('cuda');
  const unit = (seed: number) => {
    const a = fill(n, seed, -1, 1);
    for (let r = 0; r < n; r += D) {
      let ss = 0;
      for (let d = 0; d < D; d++) ss += a[r + d] * a[r + d];
      const inv = 1 / Math.sqrt(ss + 1e-6);
      for (let d = 0; d < D; d++) a[r + d] *= inv;
    }
    return up(a, [B, T, H, D]); // q, k unit-norm as in the peer run
  };
  const q = unit(1), k = unit(2);
  const v = up(fill(n, 3, -1, 1), [B, T, H, D]);
  const g = up(fill(n, 4, -0.2, -0.01), [B, T, H, D], 'f32');
  const beta = up(fill(B * T * H, 5, 0.1, 0.9), [B, T, H]);
  const dO = up(fill(n, 6, -1, 1), [B, T, H, D]);
  const fwd = time(() => {
    const r = kda.forward(q, k, v, g, beta);
    return [r.o, r.finalState];
  }, reps);
  const fwdBwd = time(() => {
    const r = kda.forward(q, k, v, g, beta);
    const b = kda.backward(q, k, v, g, beta, dO);
    return [r.o, r.finalState, b.dq, b.dk, b.dv, b.dg, b.dbeta];
  }, reps);
  emit({ what: 'kda', impl: `reclin cuda ${dtype} (SIMT)`, shape: [B, T, H, D], fwd_ms: fwd, fwd_bwd_ms: fwdBwd });
  [q, k, v, g, beta, dO].forEach((t) => t.dispose());
}

{
  const parts = 10, each = 1e7; // 1e8 parameters in 10 tensors, one launch
  const mk = (seed: number) => Array.from({ length: parts }, (_, i) => Tensor.from(fill(each, seed * 100 + i, -1, 1), [each]).to('cuda'));
  const p = mk(1), gr = mk(2), m = mk(3), v = mk(4).map((t) => {
    const s = ops.square(t);
    t.dispose();
    return s;
  });
  let step = 0;
  const ms = time(() => {
    adamw.step(p, gr, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: ++step });
    return [];
  }, 20);
  // bytes moved: read p, g, m, v and write p, m, v (fp32)
  const gbs = (7 * 4 * parts * each) / (ms * 1e-3) / 1e9;
  emit({ what: 'adamw', impl: 'reclin cuda fused', params: parts * each, ms, gbs });
  [...p, ...gr, ...m, ...v].forEach((t) => t.dispose());
}

{
  // tokens, hidden, experts, experts per token, expert width (sigmoid router, renormalised, one group)
  const [N, d, E, k, I] = [4096, 1024, 64, 6, 512];
  const up = (a: Float32Array, shape: number[]) => Tensor.from(a, shape).to('cuda');
  const logits = up(fill(N * E, 11, -2, 2), [N, E]), x = up(fill(N * d, 12, -1, 1), [N, d]);
  const gu = up(fill(E * 2 * I * d, 13, -0.03, 0.03), [E, 2 * I, d]), dn = up(fill(E * d * I, 14, -0.04, 0.04), [E, d, I]);
  const dy = up(fill(N * d, 15, -1, 1), [N, d]);
  const opts = { topK: k, renormalize: true, scale: 1 };
  const fwd = time(() => {
    const r = moe.route(logits, null, opts);
    const e = moe.experts(x, gu, dn, r.indices, r.weights);
    return [r.weights, r.indices, r.scores, e.y, e.h, e.ye];
  }, reps);
  const fwdBwd = time(() => {
    const r = moe.route(logits, null, opts);
    const e = moe.experts(x, gu, dn, r.indices, r.weights);
    const g = moe.expertsBackward(dy, x, gu, dn, r.indices, r.weights, e.h, e.ye);
    const dl = moe.routeBackward(g.dWeights, r.scores, r.indices, opts);
    return [r.weights, r.indices, r.scores, e.y, e.h, e.ye, g.dx, g.dGateUp, g.dDown, g.dWeights, dl];
  }, reps);
  emit({ what: 'moe', impl: 'reclin cuda f32', shape: [N, d, E, k, I], fwd_ms: fwd, fwd_bwd_ms: fwdBwd });
  [logits, x, gu, dn, dy].forEach((t) => t.dispose());
}

for (const [B, T, H, D] of shapes) for (const dtype of ['bf16', 'f32'] as const) benchKda(B, T, H, D, dtype);
