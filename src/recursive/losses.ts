// The six losses of docs/design/sidecar.md, "One training step", step 3, computed exactly in float64 on the host with
// their analytic gradients. The tensor-level wrapper (ChunkRefine) feeds these gradients back into the tape.
// Every term is logged unweighted; the total applies each lambda exactly once.
//
// Shapes: K inner steps, B rows, W chunk predictions, V vocab. Row j of step k's logits predicts chunk
// token j (the position before chunk position j predicts it: next-token targets, shifted by the collator).
//   final_ce  = mean over valid targets of CE(logits_K)
//   masked_ce = sum_{k<K} w_k * mean over valid corrupted targets of CE(logits_k),  w_k = (1/k) / sum_{i<K} 1/i
//   halt      = mean over k, b of BCE(sigmoid(z_k[b]), y_k[b]),  y_k[b] = 1 iff stopping at step k loses
//               nothing: c_k[b] >= c_m[b] for every later step m, where c_k[b] counts the valid j of row b
//               whose argmax(logits_k[b, j]) equals the target (y_K = 1: the chunk is committed there anyway).
//               Why not "row b is entirely correct" (the first definition): that asks whether the base
//               model predicts every token of the chunk, which the demo's base (65% of tokens right) does
//               for ~7% of chunks and a text model never does for 128-token chunks; the head learned p near
//               that rate and never committed. The commit decision is whether more refining helps.
//   length    = mean over b of -log_softmax(lengthLogits[b])[min(lengths[b], maxLen)]
//   ponder    = mean over b of E[steps] = sum_{k=1..K} prod_{i<k} (1 - p_i),  p_i = sigmoid(z_i[b])
//               (halting at step k with prob p_k, forced at K: the ACT expected step count)
//   stability = mean over k<K of mean over valid uncorrupted (b, j) of mean_v |softmax_k - softmax_{k+1}|
// Empty selections (no corrupted or no uncorrupted positions, K = 1) give 0, never NaN.
import { IGNORE_INDEX } from '../data/collate';

export interface LossWeights {
  final: number;
  masked: number;
  halt: number;
  length: number;
  ponder: number;
  stability: number;
}

export const DEFAULT_LOSS_WEIGHTS: LossWeights = { final: 1.0, masked: 0.5, halt: 0.5, length: 0.05, ponder: 0.01, stability: 0.01 };

export interface RecursiveLossInputs {
  B: number;
  W: number;
  V: number;
  /** K arrays of [B*W*V] chunk logits, one per inner step. */
  logits: ArrayLike<number>[];
  /** K arrays of [B] commit logits (p_commit = sigmoid). */
  haltLogits: ArrayLike<number>[];
  /** [B*(maxLen+1)] length-head logits of the last step, or null without a length head. */
  lengthLogits: ArrayLike<number> | null;
  maxLen: number;
  /** [B*W] next-token targets, IGNORE_INDEX where there is none. */
  targets: Int32Array;
  /** [B*W] 1 where the draft token at that chunk position was corrupted. */
  corrupted: Uint8Array;
  /** [B] true effective chunk lengths. */
  lengths: Int32Array;
}

export interface LossTerms {
  final_ce: number;
  masked_ce: number;
  halt: number;
  length: number;
  ponder: number;
  stability: number;
}

export interface RecursiveLossResult {
  /** Unweighted terms, each logged on its own. */
  terms: LossTerms;
  /** sum of lambda * term. */
  total: number;
  /** Per-step halting targets y_k[b]. */
  haltTargets: Uint8Array[];
  /** Fraction of valid targets the last step predicts correctly (argmax). */
  tokenAccuracy: number;
  /** d total / d inputs. */
  grads: { logits: Float64Array[]; haltLogits: Float64Array[]; lengthLogits: Float64Array | null };
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
const softplus = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));

/** Softmax of x[off..off+n) into out (float64), returns log-sum-exp. */
function softmaxRow(x: ArrayLike<number>, off: number, n: number, out: Float64Array): number {
  let m = -Infinity;
  for (let v = 0; v < n; v++) if (x[off + v] > m) m = x[off + v];
  let s = 0;
  for (let v = 0; v < n; v++) {
    out[v] = Math.exp(x[off + v] - m);
    s += out[v];
  }
  for (let v = 0; v < n; v++) out[v] /= s;
  return m + Math.log(s);
}

function argmaxRow(x: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let v = 1; v < n; v++) if (x[off + v] > x[off + best]) best = v;
  return best;
}

function checkInputs(inp: RecursiveLossInputs): number {
  const { B, W, V } = inp;
  const K = inp.logits.length;
  if (K < 1) throw new RangeError('logits: expected at least one inner step');
  if (inp.haltLogits.length !== K) throw new RangeError(`haltLogits: expected ${K} steps (one per logits), got ${inp.haltLogits.length}`);
  inp.logits.forEach((l, k) => {
    if (l.length !== B * W * V) throw new RangeError(`logits[${k}]: expected ${B}x${W}x${V} = ${B * W * V} values, got ${l.length}`);
  });
  inp.haltLogits.forEach((h, k) => {
    if (h.length !== B) throw new RangeError(`haltLogits[${k}]: expected ${B} values, got ${h.length}`);
  });
  if (inp.targets.length !== B * W) throw new RangeError(`targets: expected ${B * W} values, got ${inp.targets.length}`);
  if (inp.corrupted.length !== B * W) throw new RangeError(`corrupted: expected ${B * W} values, got ${inp.corrupted.length}`);
  if (inp.lengths.length !== B) throw new RangeError(`lengths: expected ${B} values, got ${inp.lengths.length}`);
  if (inp.lengthLogits && inp.lengthLogits.length !== B * (inp.maxLen + 1)) throw new RangeError(`lengthLogits: expected ${B}x${inp.maxLen + 1} values, got ${inp.lengthLogits.length}`);
  for (let i = 0; i < inp.targets.length; i++) {
    const t = inp.targets[i];
    if (t !== IGNORE_INDEX && (t < 0 || t >= V)) throw new RangeError(`targets[${i}]: expected ${IGNORE_INDEX} or an id in [0, ${V}), got ${t}`);
  }
  return K;
}

export function recursiveLoss(inp: RecursiveLossInputs, lambda: LossWeights = DEFAULT_LOSS_WEIGHTS): RecursiveLossResult {
  const K = checkInputs(inp);
  const { B, W, V, targets, corrupted } = inp;
  const N = B * W;
  const valid = (i: number) => targets[i] !== IGNORE_INDEX;
  const gLogits = inp.logits.map(() => new Float64Array(N * V));
  const gHalt = inp.haltLogits.map(() => new Float64Array(B));
  const sm = new Float64Array(V);

  // Softmax of every row of every step (needed by CE, stability and their gradients).
  const probs: Float64Array[] = [];
  const lse: Float64Array[] = [];
  for (let k = 0; k < K; k++) {
    const p = new Float64Array(N * V);
    const l = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      l[i] = softmaxRow(inp.logits[k], i * V, V, sm);
      p.set(sm, i * V);
    }
    probs.push(p);
    lse.push(l);
  }
  // Adds scale * d CE(row i of step k) / d logits.
  const addCeGrad = (k: number, i: number, scale: number) => {
    const g = gLogits[k];
    for (let v = 0; v < V; v++) g[i * V + v] += scale * probs[k][i * V + v];
    g[i * V + targets[i]] -= scale;
  };
  const ce = (k: number, i: number) => lse[k][i] - inp.logits[k][i * V + targets[i]];

  // final_ce
  let nValid = 0;
  let finalCe = 0;
  let correct = 0;
  for (let i = 0; i < N; i++) {
    if (!valid(i)) continue;
    nValid++;
    finalCe += ce(K - 1, i);
    if (argmaxRow(inp.logits[K - 1], i * V, V) === targets[i]) correct++;
  }
  if (nValid > 0) {
    finalCe /= nValid;
    for (let i = 0; i < N; i++) if (valid(i)) addCeGrad(K - 1, i, lambda.final / nValid);
  }

  // masked_ce over the intermediate steps
  let maskedCe = 0;
  let nMasked = 0;
  for (let i = 0; i < N; i++) if (valid(i) && corrupted[i]) nMasked++;
  if (K > 1 && nMasked > 0) {
    let h = 0;
    for (let k = 1; k < K; k++) h += 1 / k;
    for (let k = 0; k < K - 1; k++) {
      const w = 1 / (k + 1) / h;
      let s = 0;
      for (let i = 0; i < N; i++) {
        if (!valid(i) || !corrupted[i]) continue;
        s += ce(k, i);
        addCeGrad(k, i, (lambda.masked * w) / nMasked);
      }
      maskedCe += (w * s) / nMasked;
    }
  }

  // halt: per-step targets from the per-step correct counts c_k[b]
  const correctAt = inp.logits.map((l) => {
    const c = new Int32Array(B);
    for (let i = 0; i < N; i++) if (valid(i) && argmaxRow(l, i * V, V) === targets[i]) c[Math.floor(i / W)]++;
    return c;
  });
  const haltTargets: Uint8Array[] = [];
  let halt = 0;
  for (let k = 0; k < K; k++) {
    const y = new Uint8Array(B);
    for (let b = 0; b < B; b++) {
      let ok = 1;
      for (let m = k + 1; m < K && ok; m++) if (correctAt[m][b] > correctAt[k][b]) ok = 0;
      y[b] = ok;
      const z = inp.haltLogits[k][b];
      halt += softplus(z) - ok * z;
      gHalt[k][b] += (lambda.halt * (sigmoid(z) - ok)) / (K * B);
    }
    haltTargets.push(y);
  }
  halt /= K * B;

  // length (last step's length head)
  let length = 0;
  let gLen: Float64Array | null = null;
  if (inp.lengthLogits) {
    const L1 = inp.maxLen + 1;
    gLen = new Float64Array(B * L1);
    const p = new Float64Array(L1);
    for (let b = 0; b < B; b++) {
      const t = Math.min(Math.max(inp.lengths[b], 0), inp.maxLen);
      const l = softmaxRow(inp.lengthLogits, b * L1, L1, p);
      length += l - inp.lengthLogits[b * L1 + t];
      for (let v = 0; v < L1; v++) gLen[b * L1 + v] = (lambda.length * p[v]) / B;
      gLen[b * L1 + t] -= lambda.length / B;
    }
    length /= B;
  }

  // ponder: E[steps] = sum_{k=1..K} prod_{i<k}(1 - p_i); dE/dp_i = -prod_{m<i}(1-p_m) * sum_{k=i..K-1} prod_{i<m<=k}(1-p_m)
  let ponder = 0;
  for (let b = 0; b < B; b++) {
    const p = inp.haltLogits.map((h) => sigmoid(h[b]));
    let c = 1;
    let e = 0;
    for (let k = 0; k < K; k++) {
      e += c;
      c *= 1 - p[k];
    }
    ponder += e;
    let before = 1;
    for (let i = 0; i < K - 1; i++) {
      let tail = 0;
      let run = 1;
      for (let k = i + 1; k < K; k++) {
        tail += run;
        run *= 1 - p[k];
      }
      const dp = -before * tail;
      gHalt[i][b] += ((lambda.ponder * dp) / B) * p[i] * (1 - p[i]);
      before *= 1 - p[i];
    }
  }
  ponder /= B;

  // stability between consecutive steps on valid uncorrupted positions
  let stability = 0;
  let nU = 0;
  for (let i = 0; i < N; i++) if (valid(i) && !corrupted[i]) nU++;
  if (K > 1 && nU > 0) {
    const c = 1 / ((K - 1) * nU * V);
    const dP = probs.map(() => new Float64Array(N * V));
    for (let k = 0; k < K - 1; k++) {
      for (let i = 0; i < N; i++) {
        if (!valid(i) || corrupted[i]) continue;
        for (let v = 0; v < V; v++) {
          const d = probs[k][i * V + v] - probs[k + 1][i * V + v];
          stability += Math.abs(d) * c;
          const s = Math.sign(d) * c * lambda.stability;
          dP[k][i * V + v] += s;
          dP[k + 1][i * V + v] -= s;
        }
      }
    }
    // through the softmax: dx = p * (dp - sum(p * dp))
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < N; i++) {
        if (!valid(i) || corrupted[i]) continue;
        let dot = 0;
        for (let v = 0; v < V; v++) dot += probs[k][i * V + v] * dP[k][i * V + v];
        for (let v = 0; v < V; v++) gLogits[k][i * V + v] += probs[k][i * V + v] * (dP[k][i * V + v] - dot);
      }
    }
  }

  const terms: LossTerms = { final_ce: finalCe, masked_ce: maskedCe, halt, length, ponder, stability };
  const total =
    lambda.final * finalCe + lambda.masked * maskedCe + lambda.halt * halt + lambda.length * length + lambda.ponder * ponder + lambda.stability * stability;
  return {
    terms,
    total,
    haltTargets,
    tokenAccuracy: nValid > 0 ? correct / nValid : 0,
    grads: { logits: gLogits, haltLogits: gHalt, lengthLogits: gLen },
  };
}

/** The loss weights of a recursive config. */
export function lossWeightsFromConfig(c: {
  lambda_final: number;
  lambda_masked: number;
  lambda_halt: number;
  lambda_len: number;
  lambda_ponder: number;
  lambda_stability: number;
}): LossWeights {
  return { final: c.lambda_final, masked: c.lambda_masked, halt: c.lambda_halt, length: c.lambda_len, ponder: c.lambda_ponder, stability: c.lambda_stability };
}
