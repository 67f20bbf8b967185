// Experiment tracking: config schemas, tracker, checkpoints (safetensors, via ../format), model card.
//
//   const tr = await ExperimentTracker.create({ name, dir, description, recursiveConfig, runConfig, modelConfig });
//   tr.logMetrics({ 'train/loss': 1.2 }, step);            // metrics/metrics.jsonl + TensorBoard (logs/)
//   await tr.saveCheckpoint({ step, model, optimizer, trainerState, metrics });   // best + retention
//   await tr.close('completed' | 'failed' | 'interrupted', error?);             // card, final status, unlock
//
// Resuming (the CLI's `reclin resume`): `ExperimentTracker.resume(dir, { fromStep })` takes the lock (a live
// writer is refused, a dead one's stale lock is taken over), removes half-written checkpoint folders and
// starts a new run segment. Everything logged after `fromStep` (default: the latest complete checkpoint) is
// superseded: metric/text/sample records and TensorBoard events with a later step move to superseded/ and
// are removed from the live logs (rewritten atomically), later checkpoints move to checkpoints/superseded/.
// So metrics.jsonl and TensorBoard show one history without duplicate steps; every record carries its
// `segment`. `tr.truncateMetricsAfter(step)` does the same on an open tracker.
// Read-only helpers for other commands: readRunStatus (stale `running` detection), listExperiments,
// readCheckpoint(dir, step | 'latest' | 'best'), summarizeRunDir, createModelCardForRun, addNoteToRun (also while
// the run trains: see notes.ts), readRunMetadata.
export { RecursiveConfigSchema, RunConfigSchema, parseRecursiveConfig, parseRunConfig, loadRecursiveConfig, loadRunConfig, ConfigError, PHASES, CORRUPTION_SCHEDULES, CACHE_RESET_POLICIES } from './config';
export type { RecursiveConfig, RecursiveConfigInput, RunConfig, RunConfigInput, Phase } from './config';
export { formatProblems } from './config';
export { ExperimentTracker, ExperimentExistsError, readCheckpoint, addNoteToRun, readRunMetadata, createModelCardForRun, summarizeRunDir } from './tracker';
export type { CreateTrackerOptions, ResumeTrackerOptions, SaveCheckpointArgs, ExperimentMetadata, MetadataUpdate, NoteEntry, SegmentEntry, RunSummary } from './tracker';
export { readRunStatus, listExperiments, lastSignOfLife, DEFAULT_STALE_AFTER_MS } from './status';
export type { RunStatus, RunState, StatusFile, ExperimentListing } from './status';
export { LockError, readLock } from './lock';
export type { LockInfo } from './lock';
export { listCheckpoints, verifyCheckpoint, loadCheckpointDir, checkpointName, CheckpointError } from './checkpoint';
export type { CheckpointMetadata, LoadedCheckpoint } from './checkpoint';
export { readMetrics, metricSummary, readJsonl } from './metrics';
export type { MetricRecord } from './metrics';
export { renderModelCard, toYaml } from './modelcard';
export type { ModelCardInput } from './modelcard';
export { captureGit, captureHost, captureRuntime, captureCommand, captureEnv, readableArgv } from './provenance';
export type { GitInfo, HostInfo, RuntimeInfo, CommandInfo } from './provenance';
