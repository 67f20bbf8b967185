// Glue between the Trainer and the experiment tracker: metrics, notes, generation samples and checkpoints go
// to the run directory; a loaded checkpoint comes back in the form Trainer.restore takes.
// A checkpoint's model record holds the base weights (HF names) and, for recursive phases, the sidecar and
// LoRA tensors (refine.*, boundary.*, latent.*, *.lora_A/B.weight) beside them.
import type { LoadedCheckpoint } from '../experiment/checkpoint';
import { tensorDataToFloat32 } from '../format/safetensors';
import type { ExperimentTracker } from '../experiment/tracker';
import { Tensor } from '../tensor';
import type { TrainerHooks, TrainerState } from './trainer';

export function trackerHooks(tracker: ExperimentTracker): TrainerHooks {
  return {
    metrics: (step, m) => tracker.logMetrics(m, step),
    note: (step, text) => tracker.addNote(text, step),
    sample: (step, s) => tracker.logGenerationSample(s.prompt, s.output, step, s.exact === undefined ? {} : { exact_match: s.exact ? 1 : 0 }),
    checkpoint: async (step, ck, info) => {
      await tracker.saveCheckpoint({
        step,
        model: Object.fromEntries(ck.model),
        sidecar: Object.fromEntries(ck.sidecar),
        optimizer: Object.fromEntries(ck.optimizer),
        trainerState: ck.state as unknown as Record<string, unknown>,
        metrics: info.metrics,
        isBest: info.isBest,
      });
    },
  };
}

/** A checkpoint read by the tracker, as Trainer.restore takes it (base and sidecar tensors by name). */
export function checkpointFromLoaded(loaded: LoadedCheckpoint): { model: Map<string, Tensor>; sidecar: Map<string, Tensor>; optimizer: Map<string, Tensor>; state: TrainerState } {
  const toMap = (rec: LoadedCheckpoint['model'] | null) => new Map(Object.entries(rec ?? {}).map(([k, t]) => [k, Tensor.from(tensorDataToFloat32(t), t.shape)] as const));
  const all = toMap(loaded.model);
  if (!loaded.optimizer) throw new RangeError(`checkpoint ${loaded.dir}: has no optimizer state; it cannot resume training`);
  return { model: all, sidecar: all, optimizer: toMap(loaded.optimizer), state: loaded.trainerState as unknown as TrainerState };
}
