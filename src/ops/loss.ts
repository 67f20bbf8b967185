import type { Tensor } from '../storage/tensor';
import { call, callMulti } from './native-call';

export interface CrossEntropyOptions {
  /** Rows whose target equals this get loss 0 and zero gradient (default -100, as torch). */
  ignoreIndex?: number;
}

/** Per-row cross-entropy of logits [N,V] against i32 targets [N] -> { loss [N], lse [N] }. */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): { loss: Tensor; lse: Tensor } {
  return callMulti<'loss' | 'lse'>('crossEntropy', logits, targets, opts);
}

/** dLogits [N,V] = dLoss[n] * (softmax(logits[n]) - onehot(target[n])), zero rows where ignored. */
export function crossEntropyBackward(dLoss: Tensor, logits: Tensor, targets: Tensor, lse: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  return call('crossEntropyBackward', dLoss, logits, targets, lse, opts);
}
