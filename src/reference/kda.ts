// The KDA recurrence as the definition, in float64: the reference every fast KDA kernel (native/kda.cc,
// cuda/kda.cu) is tested against, kept in the library (like fla keeps `naive` beside `chunk`) so users can check
// their own inputs. Slow on purpose: one token at a time, no chunking, no factorisation.

type Num = ArrayLike<number>;

/** Layouts as the kernels: q, k, g [B,T,H,K]; v [B,T,H,V]; beta [B,T,H]; h0 [B,H,K,V] or null. */
export interface KdaReferenceInputs {
  B: number;
  T: number;
  H: number;
  K: number;
  V: number;
  q: Num;
  k: Num;
  v: Num;
  g: Num;
  beta: Num;
  h0?: Num | null;
  scale: number;
}

/**
 * The recurrence (docs/design/kda.md §2) token by token in float64, one (batch, head) stream at a time.
 * Returns o [B,T,H,V], the final state [B,H,K,V] and every post-write state S_t (for `kdaBackward`).
 * q and k must already be L2-normalised; scale multiplies q.
 */
export function kdaForward(x: KdaReferenceInputs): { o: Float64Array; ht: Float64Array; states: Float64Array[] } {
  const { B, T, H, K, V, scale } = x;
  const o = new Float64Array(B * T * H * V);
  const ht = new Float64Array(B * H * K * V);
  const states: Float64Array[] = []; // [bh][t] -> S_t (K*V)
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const S = new Float64Array(K * V);
      if (x.h0) for (let i = 0; i < K * V; i++) S[i] = x.h0[bh * K * V + i];
      const e = new Float64Array(V);
      for (let t = 0; t < T; t++) {
        const rk = ((b * T + t) * H + h) * K;
        const rv = ((b * T + t) * H + h) * V;
        for (let d = 0; d < K; d++) {
          const a = Math.exp(x.g[rk + d]);
          for (let j = 0; j < V; j++) S[d * V + j] *= a;
        }
        for (let j = 0; j < V; j++) {
          let p = 0;
          for (let d = 0; d < K; d++) p += S[d * V + j] * x.k[rk + d];
          e[j] = x.v[rv + j] - p;
        }
        const be = x.beta[(b * T + t) * H + h];
        for (let d = 0; d < K; d++) {
          const kd = be * x.k[rk + d];
          for (let j = 0; j < V; j++) S[d * V + j] += kd * e[j];
        }
        for (let j = 0; j < V; j++) {
          let s = 0;
          for (let d = 0; d < K; d++) s += S[d * V + j] * x.q[rk + d];
          o[rv + j] = scale * s;
        }
        states.push(Float64Array.from(S));
      }
      ht.set(S, bh * K * V);
    }
  return { o, ht, states };
}

/** The exact reverse-time backward (docs/design/kda.md §4.1), from the states `kdaForward` returned. */
export function kdaBackward(x: KdaReferenceInputs & { dO: Num; dht?: Num | null }, states: Float64Array[]) {
  const { B, T, H, K, V, scale } = x;
  const dq = new Float64Array(B * T * H * K);
  const dk = new Float64Array(B * T * H * K);
  const dg = new Float64Array(B * T * H * K);
  const dv = new Float64Array(B * T * H * V);
  const dbeta = new Float64Array(B * T * H);
  const dh0 = new Float64Array(B * H * K * V);
  const Sp = new Float64Array(K * V);
  const e = new Float64Array(V);
  const du = new Float64Array(V);
  const u = new Float64Array(V);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const dS = new Float64Array(K * V);
      if (x.dht) for (let i = 0; i < K * V; i++) dS[i] = x.dht[bh * K * V + i];
      for (let t = T - 1; t >= 0; t--) {
        const rk = ((b * T + t) * H + h) * K;
        const rv = ((b * T + t) * H + h) * V;
        const rb = (b * T + t) * H + h;
        const St = states[bh * T + t];
        const be = x.beta[rb];
        // S'_t = diag(alpha) S_{t-1}
        for (let d = 0; d < K; d++) {
          const a = Math.exp(x.g[rk + d]);
          for (let j = 0; j < V; j++) {
            const prev = t > 0 ? states[bh * T + t - 1][d * V + j] : x.h0 ? x.h0[bh * K * V + d * V + j] : 0;
            Sp[d * V + j] = a * prev;
          }
        }
        for (let j = 0; j < V; j++) {
          let p = 0;
          for (let d = 0; d < K; d++) p += Sp[d * V + j] * x.k[rk + d];
          e[j] = x.v[rv + j] - p;
          u[j] = be * e[j];
        }
        // dS += s q dOᵀ ; dq = s S_t dO
        for (let d = 0; d < K; d++) {
          const sq = scale * x.q[rk + d];
          let acc = 0;
          for (let j = 0; j < V; j++) {
            dS[d * V + j] += sq * x.dO[rv + j];
            acc += St[d * V + j] * x.dO[rv + j];
          }
          dq[rk + d] = scale * acc;
        }
        // dk = dS u ; du = dSᵀ k
        for (let j = 0; j < V; j++) du[j] = 0;
        for (let d = 0; d < K; d++) {
          let acc = 0;
          const kd = x.k[rk + d];
          for (let j = 0; j < V; j++) {
            acc += dS[d * V + j] * u[j];
            du[j] += dS[d * V + j] * kd;
          }
          dk[rk + d] = acc;
        }
        let db = 0;
        for (let j = 0; j < V; j++) {
          db += e[j] * du[j];
          dv[rv + j] = be * du[j];
        }
        dbeta[rb] = db;
        // dp = -beta du ; dS' = dS + k dpᵀ ; dk += S' dp ; dg = rowsum(S' ⊙ dS') ; dS = diag(alpha) dS'
        for (let d = 0; d < K; d++) {
          const kd = x.k[rk + d];
          const a = Math.exp(x.g[rk + d]);
          let acc = 0;
          let gsum = 0;
          for (let j = 0; j < V; j++) {
            const dp = -be * du[j];
            acc += Sp[d * V + j] * dp;
            const dSp = dS[d * V + j] + kd * dp;
            gsum += Sp[d * V + j] * dSp;
            dS[d * V + j] = a * dSp;
          }
          dk[rk + d] += acc;
          dg[rk + d] = gsum;
        }
      }
      dh0.set(dS, bh * K * V);
    }
  return { dq, dk, dv, dg, dbeta, dh0 };
}
