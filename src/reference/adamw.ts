// AdamW as PyTorch defines it (torch.optim.AdamW: decoupled weight decay, bias correction, no amsgrad), in
// float64: the reference the fused native step (native/adamw.cc, cuda/adamw.cu) is tested against.

export interface AdamWReferenceHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count after this update (bias correction uses it). */
  step: number;
}

/** One step over every tensor, in place on the float64 arrays p, m, v. */
export function adamwStep(p: Float64Array[], grads: ArrayLike<number>[], m: Float64Array[], v: Float64Array[], h: AdamWReferenceHyper): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = h;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (let t = 0; t < p.length; t++) {
    const g = grads[t];
    for (let i = 0; i < p[t].length; i++) {
      p[t][i] *= 1 - lr * weightDecay;
      m[t][i] = beta1 * m[t][i] + (1 - beta1) * g[i];
      v[t][i] = beta2 * v[t][i] + (1 - beta2) * g[i] * g[i];
      const denom = Math.sqrt(v[t][i]) / Math.sqrt(bc2) + eps;
      p[t][i] -= (lr / bc1) * (m[t][i] / denom);
    }
  }
}
