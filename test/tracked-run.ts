// Real run directories made with the ExperimentTracker (no training): metrics for a few steps, two checkpoints
// where step 2 is the best by eval/loss, a note, an issue and a generation sample. For the CLI and upload tests.
import { ExperimentTracker } from '../src/experiment';
import { randn } from './helpers';

export interface TrackedRunOptions {
  lr?: number;
  /** Floats in the model tensor (4 bytes each). */
  modelFloats?: number;
  /** Loss offset, so two runs differ. */
  offset?: number;
  /** Leave the run open (the caller closes it), e.g. to test a live run. */
  keepOpen?: boolean;
}

export async function makeTrackedRun(parent: string, name: string, opts: TrackedRunOptions = {}): Promise<{ dir: string; tracker: ExperimentTracker }> {
  const tr = await ExperimentTracker.create({
    name,
    dir: parent,
    description: `test run ${name}`,
    recursiveConfig: {},
    runConfig: { num_steps: 4, optimizer: { lr: opts.lr ?? 0.001 }, intervals: { log: 1, eval: 2, save: 2 } },
    modelConfig: { model_type: 'kimi_linear', hidden_size: 16 },
    command: ['reclin', 'test', name],
    flushIntervalMs: 50,
  });
  const off = opts.offset ?? 0;
  const n = opts.modelFloats ?? 1000;
  for (let step = 1; step <= 4; step++) {
    tr.logMetrics({ 'train/loss': 3 - step * 0.2 + off, 'train/lr': 0.001 }, step);
    if (step % 2 === 0) {
      const evalLoss = step === 2 ? 2.0 + off : 2.5 + off; // step 2 is the best
      tr.logMetrics({ 'eval/loss': evalLoss, 'eval/exact_match': step / 10 }, step);
      await tr.saveCheckpoint({
        step,
        model: { 'model.embed_tokens.weight': { dtype: 'F32', shape: [n], data: randn(n, step + 100 * off) } },
        optimizer: { 'm.model.embed_tokens.weight': { dtype: 'F32', shape: [4], data: [0, 0, 0, 0] } },
        trainerState: { step, data_position: step * 8 },
        metrics: { 'eval/loss': evalLoss },
      });
    }
  }
  tr.addNote('loss falls', 2);
  tr.addIssue('eval is noisy', 4);
  tr.logGenerationSample('1+1=', '2', 4, { exact_match: 1 });
  if (!opts.keepOpen) await tr.close('completed');
  return { dir: tr.dir, tracker: tr };
}
