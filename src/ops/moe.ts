// Mixture-of-experts routing and routed SwiGLU experts on the native engine (native/moe.cc), as transformers'
// kimi_linear router and experts compute them. The autograd function that chains them is ag.moe.
//
// Layouts: logits, scores [N,E]; weights [N,k] f32 and indices [N,k] i32 (slot j of token n); x, y [N,d];
// gateUp [E,2I,d] (per expert the gate rows 0..I-1 over the up rows I..2I-1, as transformers'
// experts.gate_up_proj); down [E,d,I] (experts.down_proj).
import type { Tensor } from '../storage/tensor';
import { call, callMulti } from './native-call';

export interface MoeRouteOptions {
  /** Experts per token (num_experts_per_token). */
  topK: number;
  /** Equal groups the experts split into (num_expert_group); with topkGroup < numGroups each needs at least 2 experts. Default 1. */
  numGroups?: number;
  /** Groups a token may pick experts from (topk_group), the groups with the best sum of their two best choices. Default 1. */
  topkGroup?: number;
  /** Divide the chosen scores by their sum (+1e-20) (moe_renormalize). Default true. */
  renormalize?: boolean;
  /** Multiplies the weights after renormalising (routed_scaling_factor). Default 1. */
  scale?: number;
  /** Scores from the logits (moe_router_activation_func). Default 'sigmoid'. */
  activation?: 'sigmoid' | 'softmax';
}

export interface MoeRouteResult {
  /** The routing weights of the chosen experts [N,k]. */
  weights: Tensor;
  /** The chosen experts [N,k] i32, best first (ties to the lower index). */
  indices: Tensor;
  /** Sigmoid (or softmax) of the logits [N,E], kept for the backward. */
  scores: Tensor;
}

export interface MoeExpertsResult {
  y: Tensor;
  /** Gate/up pre-activations [N·k,2I] and expert outputs [N·k,d], expert-major, kept for the backward. */
  h: Tensor;
  ye: Tensor;
}

export interface MoeExpertsGrads {
  dx: Tensor;
  dGateUp: Tensor;
  dDown: Tensor;
  dWeights: Tensor;
}

/** expertsBackward with weightGrads: false (frozen experts): no weight gradients. */
export type MoeExpertsInputGrads = Omit<MoeExpertsGrads, 'dGateUp' | 'dDown'> & { dGateUp: null; dDown: null };

/**
 * Gradients of the experts given dy and the forward's h and ye. weightGrads: false skips dGateUp and dDown
 * (frozen experts, possibly bf16: they would be f32 tensors of the weights' size).
 */
function expertsBackward(dy: Tensor, x: Tensor, gateUp: Tensor, down: Tensor, indices: Tensor, weights: Tensor, h: Tensor, ye: Tensor, opts?: { weightGrads?: true }): MoeExpertsGrads;
function expertsBackward(dy: Tensor, x: Tensor, gateUp: Tensor, down: Tensor, indices: Tensor, weights: Tensor, h: Tensor, ye: Tensor, opts: { weightGrads: boolean }): MoeExpertsGrads | MoeExpertsInputGrads;
function expertsBackward(dy: Tensor, x: Tensor, gateUp: Tensor, down: Tensor, indices: Tensor, weights: Tensor, h: Tensor, ye: Tensor, opts: { weightGrads?: boolean } = {}): MoeExpertsGrads | MoeExpertsInputGrads {
  return callMulti<'dx' | 'dGateUp' | 'dDown' | 'dWeights'>('moeExpertsBackward', dy, x, gateUp, down, indices, weights, h, ye, opts);
}

export const moe = {
  /**
   * Top-k routing: scores = activation(logits); choice = scores + bias (bias [E] or null only steers the choice,
   * like e_score_correction_bias); grouped selection; weights = chosen scores, renormalised, times scale.
   */
  route(logits: Tensor, bias: Tensor | null, opts: MoeRouteOptions): MoeRouteResult {
    return callMulti<'weights' | 'indices' | 'scores'>('moeRoute', logits, bias, opts);
  },

  /** dL/dlogits [N,E] from dL/dweights [N,k] (the selection itself has no gradient). */
  routeBackward(dWeights: Tensor, scores: Tensor, indices: Tensor, opts: Pick<MoeRouteOptions, 'renormalize' | 'scale' | 'activation'>): Tensor {
    return call('moeRouteBackward', dWeights, scores, indices, opts);
  },

  /** y[n] = Σ_j weights[n,j] · down_e(silu(gate_e(x_n)) · up_e(x_n)) with e = indices[n,j]: one GEMM per expert segment. */
  experts(x: Tensor, gateUp: Tensor, down: Tensor, indices: Tensor, weights: Tensor): MoeExpertsResult {
    return callMulti<'y' | 'h' | 'ye'>('moeExperts', x, gateUp, down, indices, weights);
  },

  expertsBackward,
};
