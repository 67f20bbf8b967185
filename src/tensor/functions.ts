// Differentiable functions over Vars (exported as the namespace `ag`). Each runs the native forward op and
// records how to compute its inputs' gradients with the native backward ops. Broadcasting binary functions
// reduce gradients back to each input's shape with ops.sumToShape. Integer inputs (ids, targets) are plain
// Tensors. Dims may be negative (counted from the end).
import { kda as kdaOps, moe as moeOps, type MoeRouteOptions, ops } from '../ops';
import { Var, isGradEnabled, record, zerosOn } from './autograd';
import { Tensor } from '../storage/tensor';

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function normDim(dim: number, rank: number, what: string): number {
  const d = dim < 0 ? dim + rank : dim;
  if (!Number.isInteger(d) || d < 0 || d >= rank) throw new RangeError(`${what}: dim ${dim} is out of range for a tensor of rank ${rank}`);
  return d;
}

/** g reduced to `shape` (the backward of broadcasting); g itself when nothing was broadcast. */
function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  return sameShape(g.shape, shape) ? g : ops.sumToShape(g, [...shape]);
}

/** g (whose shape broadcasts to `shape`) expanded to `shape`. */
function expandTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return ops.copy(g);
  const zeros = zerosOn(shape, g);
  const out = ops.add(zeros, g);
  zeros.dispose();
  return out;
}

// ---- linear algebra ----

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * a [...,M,K] (transA: [...,K,M]) times b [...,K,N] with the same batch dims or 2-D [K,N] shared across the
 * batch (transB: [N,K] / [...,N,K]). With a shared 2-D b the batch is flattened into one GEMM.
 */
export function matmul(a: Var, b: Var, opts: MatmulOptions = {}): Var {
  const tA = !!opts.transA;
  const tB = !!opts.transB;
  if (b.shape.length === 2 && a.shape.length > 2) {
    if (tA) throw new RangeError('matmul: transA with a batched a and a shared 2-D b is not supported; transpose a first');
    if (a.data.device === 'cpu') return matmulSharedB(a, b, tB);
    const lead = a.shape.slice(0, -1);
    const y = matmul(reshape(a, [numel(lead), a.shape[a.shape.length - 1]]), b, opts);
    return reshape(y, [...lead, y.shape[1]]);
  }
  if (lowPrecision(a.data)) return matmulBf16(a, b, tA, tB);
  const y = ops.matmul(a.data, b.data, { transA: tA, transB: tB });
  return record('matmul', y, [a, b], (g) => matmulGrads(a, b, a.data, b.data, g, tA, tB));
}

// a [...,K] times a shared 2-D b as one node (CPU): the native GEMM folds a's batch into M (the same product as on the
// flattened a), so no reshape nodes are recorded. dA is added in place into the gradient a already has when the
// pass owns it alone (on the CPU: x feeding two projections gets one buffer, no separate add); dB flattens the
// batch with reshape views.
function matmulSharedB(a: Var, b: Var, tB: boolean): Var {
  const y = ops.matmul(a.data, b.data, { transB: tB });
  return record('matmul', y, [a, b], (g, pending) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      const p = pending(0);
      if (p && p.device === 'cpu' && g.device === 'cpu' && p.dtype === 'f32') {
        ops.matmulAccumulate(p, g, b.data, { transB: !tB });
        da = p;
      } else da = ops.matmul(g, b.data, { transB: !tB });
    }
    if (b.requiresGrad) {
      const K = a.shape[a.shape.length - 1];
      const rows = a.data.size / K;
      const a2 = a.data.reshape([rows, K]);
      const g2 = g.reshape([rows, g.shape[g.shape.length - 1]]);
      db = tB ? ops.matmul(g2, a2, { transA: true }) : ops.matmul(a2, g2, { transA: true });
      a2.dispose();
      g2.dispose();
    }
    return [da, db];
  });
}

// dA = dC·op(B)ᵀ and dB = op(A)ᵀ·dC, each laid out like its input (transposes read in place); A, B and dC as given
// (f32, or all bf16 under --precision bf16: the GEMM accumulates in fp32 and returns f32 either way).
function matmulGrads(a: Var, b: Var, A: Tensor, B: Tensor, g: Tensor, tA: boolean, tB: boolean): (Tensor | null)[] {
  let da: Tensor | null = null;
  let db: Tensor | null = null;
  if (a.requiresGrad) {
    if (!tA) da = tB ? ops.matmul(g, B) : ops.matmul(g, B, { transB: true });
    else da = tB ? ops.matmul(B, g, { transA: true, transB: true }) : ops.matmul(B, g, { transB: true });
  }
  if (b.requiresGrad) {
    if (!tB) db = tA ? ops.matmul(A, g) : ops.matmul(A, g, { transA: true });
    else db = tA ? ops.matmul(g, A, { transA: true, transB: true }) : ops.matmul(g, A, { transA: true });
  }
  return [da, db];
}

// The matmul under --precision bf16: A and B cast to bf16 (from fp32 activations and the fp32 master weights), the
// product accumulated in fp32 and returned as f32; the backward casts dC to bf16 and multiplies it with the same
// bf16 copies, so the gradients reaching the fp32 weights are fp32. Each copy is kept only if the backward needs it
// (bf16 A for dB, bf16 B for dA) and freed by it (a graph is walked once).
function matmulBf16(a: Var, b: Var, tA: boolean, tB: boolean): Var {
  const a16 = ops.cast(a.data, 'bf16');
  const b16 = ops.cast(b.data, 'bf16');
  const y = ops.matmul(a16, b16, { transA: tA, transB: tB });
  const graph = isGradEnabled() && (a.requiresGrad || b.requiresGrad);
  if (!graph || !b.requiresGrad) a16.dispose();
  if (!graph || !a.requiresGrad) b16.dispose();
  return record('matmul', y, [a, b], (g) => {
    const g16 = ops.cast(g, 'bf16');
    try {
      return matmulGrads(a, b, a16, b16, g16, tA, tB);
    } finally {
      for (const t of [g16, a16, b16]) if (!t.disposed) t.dispose();
    }
  });
}

/** y = x Wᵀ (+ bias): x [...,in], weight [out,in] (PyTorch/HF layout), bias [out]. */
export function linear(x: Var, weight: Var, bias?: Var | null): Var {
  const y = matmul(x, weight, { transB: true });
  return bias ? add(y, bias) : y;
}

// ---- elementwise (numpy broadcasting) ----

export function add(a: Var, b: Var): Var {
  return record('add', ops.add(a.data, b.data), [a, b], (g) => [a.requiresGrad ? sumTo(g, a.shape) : null, b.requiresGrad ? sumTo(g, b.shape) : null]);
}

export function sub(a: Var, b: Var): Var {
  return record('sub', ops.sub(a.data, b.data), [a, b], (g) => {
    let db: Tensor | null = null;
    if (b.requiresGrad) {
      const n = ops.neg(g);
      db = sumTo(n, b.shape);
      if (db !== n) n.dispose();
    }
    return [a.requiresGrad ? sumTo(g, a.shape) : null, db];
  });
}

function productGrad(g: Tensor, other: Tensor, shape: readonly number[]): Tensor {
  const p = ops.mul(g, other);
  const r = sumTo(p, shape);
  if (r !== p) p.dispose();
  return r;
}

export function mul(a: Var, b: Var): Var {
  return record('mul', ops.mul(a.data, b.data), [a, b], (g) => [
    a.requiresGrad ? productGrad(g, b.data, a.shape) : null,
    b.requiresGrad ? productGrad(g, a.data, b.shape) : null,
  ]);
}

export function div(a: Var, b: Var): Var {
  const y = ops.div(a.data, b.data);
  return record('div', y, [a, b], (g) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      const q = ops.div(g, b.data);
      da = sumTo(q, a.shape);
      if (da !== q) q.dispose();
    }
    if (b.requiresGrad) {
      // d(a/b)/db = -a/b² = -y/b
      const gy = ops.mul(g, y);
      const q = ops.div(gy, b.data);
      const n = ops.neg(q);
      db = sumTo(n, b.shape);
      gy.dispose();
      q.dispose();
      if (db !== n) n.dispose();
    }
    return [da, db];
  });
}

export function scale(x: Var, s: number): Var {
  return record('scale', ops.scale(x.data, s), [x], (g) => [ops.scale(g, s)]);
}

export function addScalar(x: Var, s: number): Var {
  return record('addScalar', ops.addScalar(x.data, s), [x], (g) => [g]);
}

export function neg(x: Var): Var {
  return record('neg', ops.neg(x.data), [x], (g) => [ops.neg(g)]);
}

export function exp(x: Var): Var {
  const y = ops.exp(x.data);
  return record('exp', y, [x], (g) => [ops.mul(g, y)]);
}

export function log(x: Var): Var {
  return record('log', ops.log(x.data), [x], (g) => [ops.div(g, x.data)]);
}

export function sqrt(x: Var): Var {
  const y = ops.sqrt(x.data);
  return record('sqrt', y, [x], (g) => {
    const q = ops.div(g, y);
    const r = ops.scale(q, 0.5);
    q.dispose();
    return [r];
  });
}

export function square(x: Var): Var {
  return record('square', ops.square(x.data), [x], (g) => {
    const p = ops.mul(g, x.data);
    const r = ops.scale(p, 2);
    p.dispose();
    return [r];
  });
}

export function tanh(x: Var): Var {
  const y = ops.tanh(x.data);
  return record('tanh', y, [x], (g) => {
    // (1 - y²) g = g - g y²
    const y2 = ops.square(y);
    const gy2 = ops.mul(g, y2);
    const r = ops.sub(g, gy2);
    y2.dispose();
    gy2.dispose();
    return [r];
  });
}

export function sigmoid(x: Var): Var {
  const y = ops.sigmoid(x.data);
  return record('sigmoid', y, [x], (g) => [ops.sigmoidBackward(g, y)]);
}

export function silu(x: Var): Var {
  return record('silu', ops.silu(x.data), [x], (g) => [ops.siluBackward(g, x.data)]);
}

/** log(1 + eˣ), identity for x > 20 (as torch). */
export function softplus(x: Var): Var {
  return record('softplus', ops.softplus(x.data), [x], (g) => [ops.softplusBackward(g, x.data)]);
}

/** silu(gate) · up. */
export function swiglu(gate: Var, up: Var): Var {
  return record('swiglu', ops.swiglu(gate.data, up.data), [gate, up], (g) => {
    const { dGate, dUp } = ops.swigluBackward(g, gate.data, up.data);
    return [dGate, dUp];
  });
}

// ---- normalisation ----

/** x / sqrt(mean(x², last dim) + eps) · weight (weight [D] or null). */
export function rmsnorm(x: Var, weight: Var | null, eps: number): Var {
  const { y, rstd } = ops.rmsnorm(x.data, weight ? weight.data : null, eps);
  const inputs = weight ? [x, weight] : [x];
  return record('rmsnorm', y, inputs, (g) => {
    const { dx, dWeight } = ops.rmsnormBackward(g, x.data, weight ? weight.data : null, rstd);
    return weight ? [dx, dWeight] : [dx];
  });
}

/** x / sqrt(sum(x², last dim) + eps). */
export function l2norm(x: Var, eps = 1e-6): Var {
  const { y, rnorm } = ops.l2norm(x.data, eps);
  return record('l2norm', y, [x], (g) => [ops.l2normBackward(g, y, rnorm)]);
}

/** Softmax over the last dim. */
export function softmax(x: Var): Var {
  const y = ops.softmax(x.data);
  return record('softmax', y, [x], (g) => {
    // dx = y ⊙ (g − Σ g⊙y)
    const gy = ops.mul(g, y);
    const s = ops.sum(gy, { dim: y.shape.length - 1, keepDim: true });
    const d = ops.sub(g, s);
    const r = ops.mul(y, d);
    gy.dispose();
    s.dispose();
    d.dispose();
    return [r];
  });
}

// ---- reductions ----

export interface ReduceOptions {
  dim?: number;
  keepDim?: boolean;
}

function reduceBackward(g: Tensor, xShape: readonly number[], dim: number | undefined, keepDim: boolean, factor: number): Tensor {
  let gk = g;
  if (dim === undefined) gk = g.reshape(xShape.map(() => 1));
  else if (!keepDim) gk = g.reshape(xShape.map((d, i) => (i === dim ? 1 : d)));
  const e = expandTo(gk, xShape);
  if (gk !== g) gk.dispose();
  if (factor === 1) return e;
  const r = ops.scale(e, factor);
  e.dispose();
  return r;
}

export function sum(x: Var, opts: ReduceOptions = {}): Var {
  const dim = opts.dim === undefined ? undefined : normDim(opts.dim, x.shape.length, 'sum');
  const keepDim = !!opts.keepDim;
  const y = ops.sum(x.data, dim === undefined ? {} : { dim, keepDim });
  return record('sum', y, [x], (g) => [reduceBackward(g, x.shape, dim, keepDim, 1)]);
}

export function mean(x: Var, opts: ReduceOptions = {}): Var {
  const dim = opts.dim === undefined ? undefined : normDim(opts.dim, x.shape.length, 'mean');
  const keepDim = !!opts.keepDim;
  const n = dim === undefined ? numel(x.shape) : x.shape[dim];
  const y = ops.mean(x.data, dim === undefined ? {} : { dim, keepDim });
  return record('mean', y, [x], (g) => [reduceBackward(g, x.shape, dim, keepDim, 1 / Math.max(n, 1))]);
}

// ---- shape ----

export function reshape(x: Var, shape: readonly number[]): Var {
  if (numel(shape) !== numel(x.shape)) throw new RangeError(`reshape: cannot reshape [${x.shape.join(',')}] to [${shape.join(',')}]`);
  const inShape = x.shape;
  return record('reshape', x.data.reshape(shape), [x], (g) => [g.reshape(inShape)]);
}

/** Swaps two dims (materialised). */
export function transpose(x: Var, dim0: number, dim1: number): Var {
  const d0 = normDim(dim0, x.shape.length, 'transpose');
  const d1 = normDim(dim1, x.shape.length, 'transpose');
  return record('transpose', ops.transpose(x.data, d0, d1), [x], (g) => [ops.transpose(g, d0, d1)]);
}

/** x[..., start:end, ...] along dim. */
export function slice(x: Var, dim: number, start: number, end: number): Var {
  const d = normDim(dim, x.shape.length, 'slice');
  const inShape = x.shape;
  return record('slice', ops.slice(x.data, d, start, end), [x], (g, pending) => {
    // x's gradient so far, when this pass owns it (e.g. the other half of a split): add g into its slice in place
    const p = pending(0);
    if (p && p.device === 'cpu' && g.device === 'cpu' && p.dtype === 'f32' && g.dtype === 'f32') {
      ops.sliceAccumulate(p, g, d, start < 0 ? start + inShape[d] : start);
      return [p];
    }
    return [ops.sliceBackward(g, inShape, d, start)];
  });
}

export function concat(xs: readonly Var[], dim: number): Var {
  if (xs.length === 0) throw new RangeError('concat: expected at least one input');
  const d = normDim(dim, xs[0].shape.length, 'concat');
  const sizes = xs.map((x) => x.shape[d]);
  return record('concat', ops.concat(xs.map((x) => x.data), d), xs, (g) => {
    let off = 0;
    return xs.map((x, i) => {
      const s = off;
      off += sizes[i];
      return x.requiresGrad ? ops.slice(g, d, s, s + sizes[i]) : null;
    });
  });
}

// ---- model ops ----

/** weight [V,D] rows picked by ids (i32, any shape) -> [...ids, D]. */
export function embedding(weight: Var, ids: Tensor): Var {
  const V = weight.shape[0];
  return record('embedding', ops.embedding(weight.data, ids), [weight], (g) => [ops.embeddingBackward(g, ids, V)]);
}

/** Causal depthwise conv: x [B,T,C], w [C,W]. */
export function shortConv(x: Var, w: Var): Var {
  return record('shortConv', ops.shortConv(x.data, w.data), [x, w], (g) => {
    const { dx, dw } = ops.shortConvBackward(g, x.data, w.data);
    return [dx, dw];
  });
}

/**
 * Bytes of attention probabilities a CPU attention node may keep for its backward (instead of recomputing
 * them there, bit-identical either way): 64 MiB per call, so long sequences fall back to recomputing.
 */
export const ATTENTION_PROBS_BUDGET = 64 * 2 ** 20;

/** Causal softmax attention, no positional encoding: q,k [B,T,H,D], v [B,T,H,Dv] -> [B,T,H,Dv]. */
export function causalAttention(q: Var, k: Var, v: Var, opts: { scale?: number } = {}): Var {
  const scaleV = opts.scale ?? 1 / Math.sqrt(q.shape[q.shape.length - 1]);
  const keep = isGradEnabled() && [q, k, v].some((x) => x.requiresGrad) && q.data.device === 'cpu';
  const { o, lse, probs } = ops.causalAttention(q.data, k.data, v.data, keep ? { scale: scaleV, probsBudget: ATTENTION_PROBS_BUDGET } : { scale: scaleV });
  return record('causalAttention', o, [q, k, v], (g) => {
    const { dq, dk, dv } = ops.causalAttentionBackward(g, q.data, k.data, v.data, o, lse, { scale: scaleV, probs });
    return [dq, dk, dv];
  });
}

/**
 * MLA attention from kv_b_proj's output: keys [kv[..., :nope], src[..., ropeStart:]] (the shared part
 * repeated per head), values kv[..., nope:], then causalAttention(q, k, v). On the CPU one node, so the assembly
 * and its backward are one native pass each (ops.mlaKV) instead of slice/concat/broadcast copies; other devices
 * compose it from those ops.
 * q [B,T,H,nope+rope], kv [B,S,H,nope+dv], src [B,S,C] -> [B,T,H,dv].
 */
export function mlaCausalAttention(q: Var, kv: Var, src: Var, opts: { nope: number; ropeStart: number; scale: number }): Var {
  const { nope, ropeStart, scale } = opts;
  const C = src.shape[src.shape.length - 1];
  if (q.data.device !== 'cpu') return mlaCausalAttentionComposed(q, kv, src, opts);
  const { k, v } = ops.mlaKV(kv.data, src.data, { nope, ropeStart });
  const { o, lse, probs } = ops.causalAttention(q.data, k, v, { scale, probsBudget: isGradEnabled() && [q, kv, src].some((x) => x.requiresGrad) ? ATTENTION_PROBS_BUDGET : 0 });
  return record('mlaCausalAttention', o, [q, kv, src], (g) => {
    const { dq, dk, dv } = ops.causalAttentionBackward(g, q.data, k, v, o, lse, { scale, probs });
    const { dkv, dsrc } = ops.mlaKVBackward(dk, dv, { nope, ropeStart, C });
    dk.dispose();
    dv.dispose();
    return [dq, dkv, dsrc];
  });
}

/** mlaCausalAttention from slices, a broadcast add and a concat: the path of devices without the fused CPU ops. */
export function mlaCausalAttentionComposed(q: Var, kv: Var, src: Var, opts: { nope: number; ropeStart: number; scale: number }): Var {
  const { nope, ropeStart, scale } = opts;
  const [B, S, H, last] = kv.shape;
  const C = src.shape[2], rope = C - ropeStart;
  const v = slice(kv, 3, nope, last);
  let k: Var;
  if (!rope) k = slice(kv, 3, 0, nope);
  else {
    // kr is one head's worth, repeated over the H heads (broadcast add onto zeros; its gradient sums the heads).
    const kRot = ropeStart === 0 ? src : slice(src, 2, ropeStart, C);
    const kr = add(new Var(zerosOn([B, S, H, rope], kv.data)), reshape(kRot, [B, S, 1, rope]));
    k = nope ? concat([slice(kv, 3, 0, nope), kr], 3) : kr;
  }
  return causalAttention(q, k, v, { scale });
}

/**
 * MLA's latent norm: rmsnorm(src[..., :rank]) * weight; on the CPU read in place from src (kv_a_proj's whole
 * output [c, kr]), the same bits as ag.rmsnorm(ag.slice(src, -1, 0, rank), weight, eps). Its backward adds dx into
 * the gradient src already has (the attention node's, for kr) when the pass owns it, else returns it zero-padded.
 */
export function mlaLatentNorm(src: Var, weight: Var, rank: number, eps: number): Var {
  if (src.data.device !== 'cpu') return rmsnorm(rank === src.shape[src.shape.length - 1] ? src : slice(src, src.shape.length - 1, 0, rank), weight, eps);
  const { y, rstd } = ops.mlaLatentNorm(src.data, weight.data, { rank, eps });
  return record('mlaLatentNorm', y, [src, weight], (g, pending) => {
    const into = src.requiresGrad ? pending(0) : null;
    const { dsrc, dWeight } = ops.mlaLatentNormBackward(g, src.data, weight.data, rstd, into ? { rank, into } : { rank });
    if (!weight.requiresGrad) dWeight.dispose();
    const ds = into ?? dsrc;
    if (!src.requiresGrad && ds) {
      ds.dispose();
      return [null, weight.requiresGrad ? dWeight : null];
    }
    return [ds, weight.requiresGrad ? dWeight : null];
  });
}

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  /** 'mean' (default) averages over targets that are not ignoreIndex; 'sum'; 'none' gives [N]. */
  reduction?: 'mean' | 'sum' | 'none';
}

/** Cross-entropy of logits [N,V] against targets i32 [N]; ignored targets contribute 0. */
export function crossEntropy(logits: Var, targets: Tensor, opts: CrossEntropyOptions = {}): Var {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? 'mean';
  const { loss, lse } = ops.crossEntropy(logits.data, targets, { ignoreIndex });
  const perToken = record('crossEntropy', loss, [logits], (g) => [ops.crossEntropyBackward(g, logits.data, targets, lse, { ignoreIndex })]);
  if (reduction === 'none') return perToken;
  const total = sum(perToken);
  if (reduction === 'sum') return total;
  let count = 0;
  for (const t of targets.toInt32Array()) if (t !== ignoreIndex) count++;
  return scale(total, 1 / Math.max(count, 1));
}

export interface KdaOptions {
  scale?: number;
  /** [B,H,K,V] state to start from (treated as a constant: no gradient flows into it). */
  initialState?: Tensor | null;
  chunkSize?: number;
  /**
   * Storage of q, k, v, β and dO inside the kernels (arithmetic is fp32 either way); bf16 needs CUDA. Default: bf16
   * on CUDA inside withPrecision('bf16', ...), else f32.
   */
  storage?: 'f32' | 'bf16';
}

export type Precision = 'fp32' | 'bf16';
let precision: Precision = 'fp32';

/**
 * Runs fn with `p` as the compute precision of the ops that have a bf16 path (scoped, restored on a throw). On CUDA
 * under 'bf16': every autograd matmul (and so every linear layer) multiplies bf16 copies of its inputs with fp32
 * accumulation and f32 output, forward and backward; KDA stores q, k, v, β and dO in bf16 (fp32 arithmetic). Weights,
 * their gradients, AdamW state and every other op stay fp32 (docs/precision.md). The CPU kernels compute in fp32:
 * the scope changes nothing for CPU tensors, and the Trainer and `reclin run` refuse bf16 on the CPU. The Trainer
 * runs its steps and evaluations this way under --precision bf16; this scope is the one place the choice is read.
 */
export function withPrecision<T>(p: Precision, fn: () => T): T {
  const prev = precision;
  precision = p;
  try {
    return fn();
  } finally {
    precision = prev;
  }
}

export function getPrecision(): Precision {
  return precision;
}

/** Whether an op on `x` takes its bf16 path: inside withPrecision('bf16') and on a device other than the CPU. */
function lowPrecision(x: Tensor): boolean {
  return precision === 'bf16' && x.device !== 'cpu';
}

/**
 * The KDA recurrence (docs/design/kda.md §2): q,k [B,T,H,K] (L2-normalised by the caller), v [B,T,H,V], g [B,T,H,K]
 * (log decay ≤ 0), beta [B,T,H]. Returns o as a Var and the final state [B,H,K,V] as a plain tensor.
 */
export function kda(q: Var, k: Var, v: Var, g: Var, beta: Var, opts: KdaOptions = {}): { o: Var; finalState: Tensor } {
  const scaleV = opts.scale ?? 1 / Math.sqrt(q.shape[q.shape.length - 1]);
  const initialState = opts.initialState ?? undefined;
  const storage = opts.storage ?? (lowPrecision(q.data) ? 'bf16' : 'f32');
  if (storage === 'bf16') return kdaBf16(q, k, v, g, beta, scaleV, initialState, opts.chunkSize);
  const fwd = kdaOps.forward(q.data, k.data, v.data, g.data, beta.data, { scale: scaleV, initialState, chunkSize: opts.chunkSize });
  const o = record('kda', fwd.o, [q, k, v, g, beta], (dO) => {
    const r = kdaOps.backward(q.data, k.data, v.data, g.data, beta.data, dO, { scale: scaleV, initialState, chunkSize: opts.chunkSize });
    if (r.dInitialState) r.dInitialState.dispose();
    return [r.dq, r.dk, r.dv, r.dg, r.dbeta];
  });
  return { o, finalState: fwd.finalState };
}

// KDA with bf16 storage of q, k, v, β (cast once, kept for the backward) and dO; o and the gradients come back as f32.
function kdaBf16(q: Var, k: Var, v: Var, g: Var, beta: Var, scale: number, initialState: Tensor | undefined, chunkSize?: number): { o: Var; finalState: Tensor } {
  const [q16, k16, v16, b16] = [q, k, v, beta].map((x) => ops.cast(x.data, 'bf16'));
  const fwd = kdaOps.forward(q16, k16, v16, g.data, b16, { scale, initialState, chunkSize });
  const o32 = ops.cast(fwd.o, 'f32');
  fwd.o.dispose();
  const o = record('kda', o32, [q, k, v, g, beta], (dO) => {
    const dO16 = ops.cast(dO, 'bf16');
    const r = kdaOps.backward(q16, k16, v16, g.data, b16, dO16, { scale, initialState, chunkSize });
    dO16.dispose();
    if (r.dInitialState) r.dInitialState.dispose();
    const wide = (t: Tensor) => {
      const w = ops.cast(t, 'f32');
      t.dispose();
      return w;
    };
    return [wide(r.dq), wide(r.dk), wide(r.dv), r.dg, wide(r.dbeta)];
  });
  return { o, finalState: fwd.finalState };
}

/** The same values with no graph. */
export function detach(x: Var): Var {
  return x.detach();
}

export interface MoeOptions extends MoeRouteOptions {
  /** [E] added to the scores for the choice only (e_score_correction_bias); no gradient flows into it. */
  bias?: Tensor | null;
}

/**
 * The routed experts of a mixture-of-experts FFN (transformers' kimi_linear router + experts): x [N,d],
 * routerWeight [E,d], gateUp [E,2I,d], down [E,d,I] -> [N,d]. Router logits are x·routerWeightᵀ; the gradient
 * reaches the router through the chosen experts' weights.
 */
export function moe(x: Var, routerWeight: Var, gateUp: Var, down: Var, opts: MoeOptions): Var {
  if (x.shape.length !== 2) throw new RangeError(`moe: x must be [N,d] (flatten the batch first), got [${x.shape.join(',')}]`);
  const { bias = null, ...routeOpts } = opts;
  const logits = ops.matmul(x.data, routerWeight.data, { transB: true });
  const r = moeOps.route(logits, bias, routeOpts);
  logits.dispose();
  const e = moeOps.experts(x.data, gateUp.data, down.data, r.indices, r.weights);
  const out = record('moe', e.y, [x, routerWeight, gateUp, down], (g) => {
    const eg = moeOps.expertsBackward(g, x.data, gateUp.data, down.data, r.indices, r.weights, e.h, e.ye, { weightGrads: gateUp.requiresGrad || down.requiresGrad });
    let dx: Tensor | null = null;
    let dRouter: Tensor | null = null;
    if (x.requiresGrad || routerWeight.requiresGrad) {
      const dLogits = moeOps.routeBackward(eg.dWeights, r.scores, r.indices, routeOpts);
      if (x.requiresGrad) {
        const viaRouter = ops.matmul(dLogits, routerWeight.data);
        dx = ops.add(eg.dx, viaRouter);
        viaRouter.dispose();
      }
      if (routerWeight.requiresGrad) dRouter = ops.matmul(dLogits, x.data, { transA: true });
      dLogits.dispose();
    }
    eg.dx.dispose();
    eg.dWeights.dispose();
    if (!gateUp.requiresGrad) eg.dGateUp?.dispose();
    if (!down.requiresGrad) eg.dDown?.dispose();
    return [dx, dRouter, gateUp.requiresGrad ? eg.dGateUp : null, down.requiresGrad ? eg.dDown : null];
  });
  if (!out.node) for (const t of [r.weights, r.indices, r.scores, e.h, e.ye]) t.dispose();
  return out;
}
