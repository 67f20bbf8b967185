// KDA (Kimi Delta Attention), chunked forward and backward on the native engine (native/kda.cc, docs/design/kda.md).
//
// Layouts: q, k, g [B,T,H,K]; v, o, dO [B,T,H,V]; beta [B,T,H]; states [B,H,K,V]. On the CPU every tensor is
// f32; on CUDA q, k, v, beta and dO may also be bf16 (outputs stored like their inputs; g, states and dg f32).
// g is the per-step log decay and must be <= 0 everywhere (an error names the first offending entry: at once on the
// CPU; on CUDA the check runs on the device and the error comes at the next synchronisation, see syncCheck).
// Per step: S = diag(exp(g_t))·S; e = v_t − Sᵀk_t; S += beta_t·k_t·eᵀ; o_t = scale·Sᵀq_t (read after the write).
// q and k are used as given (the KDA layer L2-normalises them before calling this).
import type { NativeTensor } from '../native/binding';
import { kernelForArgs } from './native-call';
import { Tensor } from '../storage/tensor';

export interface KdaForwardOptions {
  /** Multiplies q; defaults to K^-1/2. */
  scale?: number;
  /** The state entering the sequence [B,H,K,V]; zeros when absent. */
  initialState?: Tensor | null;
  /** 64 (default) or 32. */
  chunkSize?: number;
}

export interface KdaBackwardOptions extends KdaForwardOptions {
  /** Gradient w.r.t. the returned final state [B,H,K,V]; zeros when absent. */
  dFinalState?: Tensor | null;
}

export interface KdaForwardResult {
  o: Tensor;
  finalState: Tensor;
}

export interface KdaBackwardResult {
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
  /** Gradient w.r.t. the per-step log decay g. */
  dg: Tensor;
  dbeta: Tensor;
  /** Gradient w.r.t. initialState; null when no initialState was given. */
  dInitialState: Tensor | null;
}

type RawOpts = { scale?: number; initialState?: NativeTensor; dFinalState?: NativeTensor; chunkSize?: number };
type RawForward = (q: NativeTensor, k: NativeTensor, v: NativeTensor, g: NativeTensor, beta: NativeTensor, opts: RawOpts) => {
  o: NativeTensor;
  finalState: NativeTensor;
};
type RawBackward = (
  q: NativeTensor,
  k: NativeTensor,
  v: NativeTensor,
  g: NativeTensor,
  beta: NativeTensor,
  dO: NativeTensor,
  opts: RawOpts,
) => Record<'dq' | 'dk' | 'dv' | 'dg' | 'dbeta', NativeTensor> & { dInitialState: NativeTensor | null };

function handle(t: unknown, name: string): NativeTensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${name}: expected a Tensor, got ${t === null ? 'null' : typeof t}`);
  if (t.disposed) throw new TypeError(`${name}: tensor was disposed`);
  return t.handle;
}

function optHandle(t: Tensor | null | undefined, name: string): NativeTensor | undefined {
  return t === undefined || t === null ? undefined : handle(t, name);
}

function rawOpts(opts: KdaBackwardOptions): RawOpts {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`options: expected an object, got ${opts === null ? 'null' : typeof opts}`);
  const out: RawOpts = {};
  if (opts.scale !== undefined) out.scale = opts.scale;
  if (opts.chunkSize !== undefined) out.chunkSize = opts.chunkSize;
  const h0 = optHandle(opts.initialState, 'initialState');
  if (h0) out.initialState = h0;
  const dht = optHandle(opts.dFinalState, 'dFinalState');
  if (dht) out.dFinalState = dht;
  return out;
}

export const kda = {
  /** Chunked KDA forward: the outputs o [B,T,H,V] and the final state [B,H,K,V]. */
  forward(q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, opts: KdaForwardOptions = {}): KdaForwardResult {
    const r = kernelForArgs<RawForward>('kdaForward', [q])(handle(q, 'q'), handle(k, 'k'), handle(v, 'v'), handle(g, 'g'), handle(beta, 'beta'), rawOpts(opts));
    return { o: Tensor.wrap(r.o), finalState: Tensor.wrap(r.finalState) };
  },

  /**
   * Chunked KDA backward (recomputes the forward states internally): gradients of
   * L(o, finalState) given dO = ∂L/∂o and optionally dFinalState = ∂L/∂finalState.
   */
  backward(q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, dO: Tensor, opts: KdaBackwardOptions = {}): KdaBackwardResult {
    const r = kernelForArgs<RawBackward>('kdaBackward', [q])(
      handle(q, 'q'),
      handle(k, 'k'),
      handle(v, 'v'),
      handle(g, 'g'),
      handle(beta, 'beta'),
      handle(dO, 'dO'),
      rawOpts(opts),
    );
    return {
      dq: Tensor.wrap(r.dq),
      dk: Tensor.wrap(r.dk),
      dv: Tensor.wrap(r.dv),
      dg: Tensor.wrap(r.dg),
      dbeta: Tensor.wrap(r.dbeta),
      dInitialState: r.dInitialState ? Tensor.wrap(r.dInitialState) : null,
    };
  },
};
