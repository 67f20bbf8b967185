// A run's checkpoints as the tracker manages them: judging the best one, writing (checkpoint.ts does the files),
// retention, and supersession: on a resume everything logged after the restart step moves to superseded/.
import * as path from 'node:path';
import { readJsonIfExists } from '../format/atomic';
import type { TensorEntry } from '../format/safetensors';
import { applyRetention, loadCheckpointDir, resolveCheckpoint, supersedeCheckpointsAfter, writeCheckpoint, type LoadedCheckpoint, type SaveCheckpointInput } from './checkpoint';
import type { RecursiveConfig } from './config';
import { supersedeEventsAfter, supersedeJsonlAfter, METRICS_FILE, SAMPLES_FILE, SUPERSEDED_DIR, TEXT_FILE } from './metrics';
import type { ExperimentMetadata, RunMetadata } from './run-metadata';
import { checkStep } from './tracker-options';
import type { ModelDirFile } from '../tokenizer/files';
import { METADATA_FILE } from './status';

/** saveCheckpoint's arguments: the checkpoint's contents (as checkpoint.ts writes them); the tracker adds the rest. */
export interface SaveCheckpointArgs extends Pick<SaveCheckpointInput, 'step' | 'model' | 'sidecar' | 'optimizer' | 'trainerState' | 'metrics'> {
  /** Whether this is the best checkpoint so far; default: judged from metrics[bestMetric] and bestMode. */
  isBest?: boolean;
  /** Overrides the tracker's modelConfig for this checkpoint. */
  modelConfig?: Record<string, unknown>;
}

/** Which checkpoints a run keeps and how it picks the best. */
export interface CheckpointPolicy {
  keepLast: number | null;
  bestMetric: string;
  bestMode: 'min' | 'max';
}

/** Throws a TypeError naming the first bad argument of saveCheckpoint. */
export function checkSaveArgs(args: SaveCheckpointArgs): void {
  if (typeof args !== 'object' || args === null) throw new TypeError('saveCheckpoint: expected { step, model, optimizer?, trainerState?, metrics?, isBest? }');
  const { step, model, sidecar, trainerState, metrics, isBest } = args;
  checkStep('saveCheckpoint', step);
  if (typeof model !== 'object' || model === null || Object.keys(model).length === 0) throw new TypeError('saveCheckpoint: model must be a non-empty object of name -> tensor');
  if (sidecar !== undefined && sidecar !== null && (typeof sidecar !== 'object' || Array.isArray(sidecar))) throw new TypeError('saveCheckpoint: sidecar must be an object of name -> tensor, or null');
  if (trainerState !== undefined && (typeof trainerState !== 'object' || trainerState === null)) throw new TypeError('saveCheckpoint: trainerState must be an object');
  if (trainerState && 'step' in trainerState && trainerState.step !== step) throw new TypeError(`saveCheckpoint: trainerState.step (${JSON.stringify(trainerState.step)}) differs from step (${step})`);
  for (const [k, v] of Object.entries(metrics ?? {})) if (typeof v !== 'number') throw new TypeError(`saveCheckpoint: metrics["${k}"] must be a number, got ${typeof v}`);
  if (isBest !== undefined && typeof isBest !== 'boolean') throw new TypeError(`saveCheckpoint: isBest must be a boolean, got ${JSON.stringify(isBest)}`);
}

/**
 * Writes checkpoints/step_NNNNNN atomically, records the best checkpoint in the metadata (before any deletion),
 * then applies retention (keep the last N and the best). The caller has made the logs durable first.
 */
export function writeRunCheckpoint(
  meta: RunMetadata,
  policy: CheckpointPolicy,
  ctx: { modelConfig: Record<string, unknown>; recursiveConfig: RecursiveConfig; runId: string; segment: number; modelFiles?: ModelDirFile[] },
  args: SaveCheckpointArgs,
): { dir: string; step: number; isBest: boolean; deleted: number[] } {
  const { step, model, sidecar, optimizer, trainerState, metrics, isBest } = args;
  const value = metrics?.[policy.bestMetric];
  const judged = typeof value === 'number' && Number.isFinite(value);
  const prev = meta.meta.best_checkpoint;
  const better = judged && (prev === null || prev.value === null || (policy.bestMode === 'min' ? value < prev.value : value > prev.value));
  const best = isBest ?? better;
  const { dir } = writeCheckpoint(meta.dir, {
    step,
    model,
    sidecar: sidecar ?? null,
    optimizer: optimizer ?? null,
    trainerState: { ...(trainerState ?? {}), best_so_far: best ? { step, metric: judged ? policy.bestMetric : null, value: judged ? value : null } : (prev ?? null) },
    metrics,
    isBest: best,
    bestMetric: judged ? { name: policy.bestMetric, mode: policy.bestMode, value: value as number } : null,
    modelConfig: ctx.modelConfig,
    recursiveConfig: ctx.recursiveConfig,
    runId: ctx.runId,
    segment: ctx.segment,
    modelFiles: ctx.modelFiles,
  });
  if (best) meta.meta.best_checkpoint = { step, metric: judged ? policy.bestMetric : null, value: judged ? (value as number) : null, mode: policy.bestMode };
  meta.meta.last_checkpoint_step = step;
  meta.save(); // the best is on disk before retention deletes anything
  const deleted = applyRetention(meta.dir, policy.keepLast, meta.meta.best_checkpoint?.step ?? null);
  return { dir, step, isBest: best, deleted };
}

/**
 * Moves everything logged after `step` (metric, text and sample records, TensorBoard events, later checkpoints)
 * to superseded/ and removes it from the live logs, so they show one history without duplicate steps.
 */
export function supersedeAfter(runDir: string, step: number, segment: number): void {
  const sup = path.join(runDir, SUPERSEDED_DIR);
  supersedeJsonlAfter(path.join(runDir, METRICS_FILE), step, path.join(sup, 'metrics.jsonl'), segment);
  supersedeJsonlAfter(path.join(runDir, TEXT_FILE), step, path.join(sup, 'text.jsonl'), segment);
  supersedeJsonlAfter(path.join(runDir, SAMPLES_FILE), step, path.join(sup, 'generation_samples.jsonl'), segment);
  supersedeEventsAfter(path.join(runDir, 'logs'), step, path.join(sup, `logs_segment${segment}`));
  supersedeCheckpointsAfter(runDir, step, segment);
}

/** Loads a verified checkpoint of any run directory without taking its lock (read-only). */
export function readCheckpoint(runDir: string, which: number | 'latest' | 'best' = 'latest'): LoadedCheckpoint {
  const meta = readJsonIfExists<ExperimentMetadata>(path.join(runDir, METADATA_FILE));
  const { dir } = resolveCheckpoint(runDir, which, meta?.best_checkpoint?.step ?? null);
  return loadCheckpointDir(dir);
}
