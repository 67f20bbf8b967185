// The six recursive losses as one autograd node: the values and input gradients come from recursiveLoss
// (float64, exact), the node hands the gradients back to the step outputs on the tape.
import type { ChunkBatch } from '../data/collate';
import { Tensor, type Var, record } from '../tensor';
import type { ChunkStep } from './chunk-refine';
import { type LossWeights, type RecursiveLossResult, recursiveLoss } from './losses';

export function recursiveLossVar(
  steps: ChunkStep[],
  batch: ChunkBatch,
  corrupted: Uint8Array,
  maxLen: number,
  weights: LossWeights,
): { loss: Var; result: RecursiveLossResult } {
  const { batchSize: B, chunkWidth: W } = batch;
  const K = steps.length;
  const V = steps[0].logits.shape[2];
  const last = steps[K - 1];
  const result = recursiveLoss(
    {
      B,
      W,
      V,
      logits: steps.map((s) => s.logits.data.toFloat32Array()),
      haltLogits: steps.map((s) => s.commitLogit.data.toFloat32Array()),
      lengthLogits: last.lengthLogits ? last.lengthLogits.data.toFloat32Array() : null,
      maxLen,
      targets: batch.targets,
      corrupted,
      lengths: batch.lengths,
    },
    weights,
  );
  const inputs: Var[] = [...steps.map((s) => s.logits), ...steps.map((s) => s.commitLogit)];
  const grads: Float64Array[] = [...result.grads.logits, ...result.grads.haltLogits];
  if (last.lengthLogits) {
    inputs.push(last.lengthLogits);
    grads.push(result.grads.lengthLogits!);
  }
  const loss = record('recursive_loss', Tensor.from(new Float32Array([result.total]), []), inputs, (dOut) => {
    const s = dOut.toFloat32Array()[0];
    return inputs.map((v, i) => {
      if (!v.requiresGrad) return null;
      const g = new Float32Array(grads[i].length);
      for (let j = 0; j < g.length; j++) g[j] = grads[i][j] * s;
      return Tensor.from(g, v.shape);
    });
  });
  return { loss, result };
}
