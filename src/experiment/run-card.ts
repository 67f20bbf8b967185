// Reports of a run from its files: the summary (what it has produced so far) and the Hugging Face model card
// (README.md, rendered by modelcard.ts), for a live tracker or any run directory.
import * as path from 'node:path';
import { writeFileAtomic } from '../format/atomic';
import { listCheckpoints } from './checkpoint';
import { loadRecursiveConfig, loadRunConfig, type RecursiveConfig, type RunConfig } from './config';
import { isStaleElsewhere } from './heartbeat';
import { acquireLock, releaseLock } from './lock';
import { metricSummary, readMetrics, type MetricRecord } from './metrics';
import { renderModelCard } from './modelcard';
import { readRunMetadata, type ExperimentMetadata } from './run-metadata';
import type { RunState } from './status';

export interface RunSummary {
  id: string;
  name: string;
  dir: string;
  status: RunState;
  phase: string;
  created_at: string;
  last_step: number | null;
  metrics_logged: number;
  final_metrics: Record<string, number>;
  best_metrics: Record<string, { min: number; minStep: number; max: number; maxStep: number }>;
  best_checkpoint: ExperimentMetadata['best_checkpoint'];
  checkpoints: number[];
  notes: number;
  issues: number;
  segments: number;
}

export function summarizeRun(dir: string, meta: ExperimentMetadata): RunSummary {
  const records: MetricRecord[] = readMetrics(dir);
  const s = metricSummary(records);
  return {
    id: meta.id,
    name: meta.name,
    dir,
    status: meta.status,
    phase: meta.phase,
    created_at: meta.created_at,
    last_step: records.length ? Math.max(...records.map((r) => r.step)) : null,
    metrics_logged: records.length,
    final_metrics: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.last])),
    best_metrics: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, { min: v.min, minStep: v.minStep, max: v.max, maxStep: v.maxStep }])),
    best_checkpoint: meta.best_checkpoint,
    checkpoints: listCheckpoints(dir).map((c) => c.step),
    notes: meta.notes.length,
    issues: meta.issues.length,
    segments: meta.segments.length,
  };
}

/** The summary of any run directory (read-only). */
export function summarizeRunDir(dir: string): RunSummary {
  const runDir = path.resolve(dir);
  return summarizeRun(runDir, readRunMetadata(runDir));
}

/** Renders the model card from the run's files, writes README.md (atomically) and returns it. */
export function writeModelCard(dir: string, meta: ExperimentMetadata, recursiveConfig: RecursiveConfig, runConfig: RunConfig): string {
  const records = readMetrics(dir);
  const card = renderModelCard({ meta, recursiveConfig, runConfig, summary: metricSummary(records), checkpoints: listCheckpoints(dir).map((c) => c.step) });
  writeFileAtomic(path.join(dir, 'README.md'), card);
  return card;
}

/** Writes (or rewrites) README.md of any run directory from its files; returns the card. */
export function createModelCardForRun(dir: string): string {
  const runDir = path.resolve(dir);
  const meta = readRunMetadata(runDir);
  // A live run rewrites README.md itself when it ends: the card is refused while another process holds the lock.
  acquireLock(runDir, meta.id, isStaleElsewhere(runDir));
  try {
    return writeModelCard(runDir, readRunMetadata(runDir), loadRecursiveConfig(path.join(runDir, 'recursive_config.json')), loadRunConfig(path.join(runDir, 'run_config.json')));
  } finally {
    releaseLock(runDir);
  }
}
