// Mixture-of-experts routing and routed experts as the definition, in float64: the reference the native MoE
// kernels (native/moe.cc; ops `moe.route`, `moe.experts`) are tested against, kept in the library so users can
// check them on their own inputs. The model side is described in docs/MODEL.md (router, grouped top-k, experts).
// Slow on purpose: plain loops, one token and one expert at a time.
//
// Layouts as the kernels: logits, scores [N,E]; indices, weights [N,k] (slot j of token n, best first);
// x, y [N,d]; routerWeight [E,d]; gateUp [E,2I,d] (per expert the gate rows, then the up rows); down [E,d,I].

import type { MoeRouteOptions } from '../ops/moe';

type Num = ArrayLike<number>;

/** The routing options of `moe.route` (src/ops/moe.ts), with the same defaults. */
export type MoeReferenceRoute = MoeRouteOptions;

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** logits[n,e] = x[n,:] · routerWeight[e,:] (the router's linear layer, no bias). */
export function moeRouterLogits(x: Num, routerWeight: Num, N: number, d: number, E: number): Float64Array {
  const out = new Float64Array(N * E);
  for (let n = 0; n < N; n++)
    for (let e = 0; e < E; e++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += x[n * d + c] * routerWeight[e * d + c];
      out[n * E + e] = s;
    }
  return out;
}

/** Scores [N,E]: sigmoid of each logit, or the softmax of each row. */
export function moeScores(logits: Num, N: number, E: number, activation: 'sigmoid' | 'softmax' = 'sigmoid'): Float64Array {
  const out = new Float64Array(N * E);
  for (let n = 0; n < N; n++) {
    if (activation === 'sigmoid') {
      for (let e = 0; e < E; e++) out[n * E + e] = sigmoid(logits[n * E + e]);
      continue;
    }
    let max = -Infinity;
    for (let e = 0; e < E; e++) max = Math.max(max, logits[n * E + e]);
    let z = 0;
    for (let e = 0; e < E; e++) z += Math.exp(logits[n * E + e] - max);
    for (let e = 0; e < E; e++) out[n * E + e] = Math.exp(logits[n * E + e] - max) / z;
  }
  return out;
}

/** `ids` ordered by key, highest first; equal keys keep the lower id first. */
function byKeyDescending(ids: number[], key: (i: number) => number): number[] {
  return [...ids].sort((a, b) => key(b) - key(a) || a - b);
}

/**
 * The chosen experts [N,k], best first: the choice value is score + bias (the bias, e.g. the frozen
 * e_score_correction_bias, only steers the choice); with topkGroup < numGroups only the topkGroup groups whose
 * two best choices sum highest are candidates. Every tie goes to the lower index.
 */
export function moeSelect(scores: Num, bias: Num | null, N: number, E: number, route: MoeReferenceRoute): Int32Array {
  const { topK } = route;
  const numGroups = route.numGroups ?? 1;
  const topkGroup = route.topkGroup ?? 1;
  const perGroup = E / numGroups;
  const indices = new Int32Array(N * topK);
  for (let n = 0; n < N; n++) {
    const choice = (e: number) => scores[n * E + e] + (bias ? bias[e] : 0);
    let candidates = Array.from({ length: E }, (_, e) => e);
    if (topkGroup < numGroups) {
      const groupValue = (g: number) => {
        const [first, second] = byKeyDescending(Array.from({ length: perGroup }, (_, i) => g * perGroup + i), choice);
        return choice(first) + choice(second);
      };
      const kept = new Set(byKeyDescending(Array.from({ length: numGroups }, (_, g) => g), groupValue).slice(0, topkGroup));
      candidates = candidates.filter((e) => kept.has(Math.floor(e / perGroup)));
    }
    byKeyDescending(candidates, choice)
      .slice(0, topK)
      .forEach((e, j) => (indices[n * topK + j] = e));
  }
  return indices;
}

/** The weights [N,k]: the chosen experts' scores (without bias), renormalised over the k when asked, times scale. */
export function moeWeights(scores: Num, indices: ArrayLike<number>, N: number, E: number, route: MoeReferenceRoute): Float64Array {
  const k = route.topK;
  const renormalize = route.renormalize ?? true;
  const scale = route.scale ?? 1;
  const out = new Float64Array(N * k);
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += scores[n * E + indices[n * k + j]];
    const denom = renormalize ? sum + 1e-20 : 1;
    for (let j = 0; j < k; j++) out[n * k + j] = (scores[n * E + indices[n * k + j]] / denom) * scale;
  }
  return out;
}

/** The whole routing step, as `moe.route`: scores, chosen experts and their weights. */
export function moeRoute(logits: Num, bias: Num | null, N: number, E: number, route: MoeReferenceRoute): { scores: Float64Array; indices: Int32Array; weights: Float64Array } {
  const scores = moeScores(logits, N, E, route.activation);
  const indices = moeSelect(scores, bias, N, E, route);
  return { scores, indices, weights: moeWeights(scores, indices, N, E, route) };
}

/** y[n] = Σ_j weights[n,j] · down_e(silu(gate_e x_n) · up_e x_n), e = indices[n,j] (SwiGLU experts). */
export function moeExperts(x: Num, gateUp: Num, down: Num, indices: ArrayLike<number>, weights: Num, dims: { N: number; d: number; I: number; k: number }): Float64Array {
  const { N, d, I, k } = dims;
  const y = new Float64Array(N * d);
  const act = new Float64Array(I);
  for (let n = 0; n < N; n++)
    for (let j = 0; j < k; j++) {
      const e = indices[n * k + j];
      for (let i = 0; i < I; i++) {
        let gate = 0;
        let up = 0;
        for (let c = 0; c < d; c++) {
          gate += gateUp[(e * 2 * I + i) * d + c] * x[n * d + c];
          up += gateUp[(e * 2 * I + I + i) * d + c] * x[n * d + c];
        }
        act[i] = gate * sigmoid(gate) * up;
      }
      for (let c = 0; c < d; c++) {
        let o = 0;
        for (let i = 0; i < I; i++) o += down[(e * d + c) * I + i] * act[i];
        y[n * d + c] += weights[n * k + j] * o;
      }
    }
  return y;
}

/** The routed layer (router, selection, experts; no shared experts), as `ag.moe`: y [N,d] and the chosen experts. */
export function moeLayer(
  w: { x: Num; routerWeight: Num; gateUp: Num; down: Num; bias?: Num | null },
  dims: { N: number; d: number; E: number; I: number },
  route: MoeReferenceRoute,
): { y: Float64Array; indices: Int32Array } {
  const { N, d, E, I } = dims;
  const { indices, weights } = moeRoute(moeRouterLogits(w.x, w.routerWeight, N, d, E), w.bias ?? null, N, E, route);
  return { y: moeExperts(w.x, w.gateUp, w.down, indices, weights, { N, d, I, k: route.topK }), indices };
}
